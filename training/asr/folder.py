"""FunASR model folders: the configuration of the project's small streaming Paraformer, and the
writer of a folder that FunASR's ``AutoModel`` loads (``config.yaml``, ``model.pt``,
``tokens.json``, ``am.mvn``) — the same format as a real FunASR checkpoint.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from models.asr.tokens import token_inventory

FEATURE_DIM = 80 * 7  # 80 fbank bands stacked over 7 frames (LFR m=7; n=6: one feature vector per 60 ms, n=3: 30 ms)


def paraformer_config(dim: int = 256, encoder_blocks: int = 8, decoder_blocks: int = 4, heads: int = 4,
                      ffn: int = 1024, dropout: float = 0.1, specaug: bool = True, ctc_weight: float = 0.3,
                      lfr_n: int = 6) -> dict:
    """FunASR ``config.yaml`` content of a streaming Paraformer (SANM chunk encoder, CIF, SANM decoder).

    Features: 80 fbank bands every 10 ms, 7 stacked every ``lfr_n`` frames (6 = FunASR's released models, one vector
    per 60 ms; 3 = one per 30 ms). Trained with chunks of 10 feature frames and 5 of look-ahead, the streaming mode
    of ``chunk_size [0, 10, 5]`` (600 / 300 ms at ``lfr_n`` 6). A CTC branch on the encoder (``ctc_weight``)
    speeds up learning from scratch; decoding does not use it.
    """
    cfg = {
        "model": "ParaformerStreaming",
        "model_conf": {"ctc_weight": ctc_weight, "lsm_weight": 0.1, "length_normalized_loss": True,
                       "predictor_weight": 1.0, "predictor_bias": 1, "sampling_ratio": 0.75},
        "encoder": "SANMEncoderChunkOpt",
        "encoder_conf": {
            "output_size": dim, "attention_heads": heads, "linear_units": ffn, "num_blocks": encoder_blocks,
            "dropout_rate": dropout, "positional_dropout_rate": dropout, "attention_dropout_rate": dropout,
            "input_layer": "pe_online", "pos_enc_class": "SinusoidalPositionEncoder", "normalize_before": True,
            "kernel_size": 11, "sanm_shfit": 0, "selfattention_layer_type": "sanm",
            "chunk_size": [15], "stride": [10], "pad_left": [0],
            "encoder_att_look_back_factor": [4], "decoder_att_look_back_factor": [1],
        },
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {
            "attention_heads": heads, "linear_units": ffn, "num_blocks": decoder_blocks, "dropout_rate": dropout,
            "positional_dropout_rate": dropout, "self_attention_dropout_rate": dropout,
            "src_attention_dropout_rate": dropout, "att_layer_num": decoder_blocks, "kernel_size": 11,
            "sanm_shfit": 5,
        },
        "predictor": "CifPredictorV2",
        "predictor_conf": {"idim": dim, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45},
        "frontend": "WavFrontendOnline",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": 80, "frame_length": 25, "frame_shift": 10,
                          "lfr_m": 7, "lfr_n": lfr_n, "dither": 0.0},
        "tokenizer": "CharTokenizer",
        # "<space>" as one symbol: FunASR's own trainer then reads targets written as "আমি<space>ভাত" (word boundaries kept).
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True, "non_linguistic_symbols": ["<space>"]},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
        "normalize": None,
    }
    if specaug:
        cfg["specaug"] = "SpecAugLFR"
        cfg["specaug_conf"] = {"apply_time_warp": False, "apply_freq_mask": True, "freq_mask_width_range": [0, 30],
                               "lfr_rate": 6, "num_freq_mask": 1, "apply_time_mask": True,
                               "time_mask_width_range": [0, 12], "num_time_mask": 1}
    return cfg


def build_model(config: dict, vocab_size: int | None = None) -> torch.nn.Module:
    """The torch model of ``config`` with random weights, built by FunASR's registry (no hub, no files)."""
    from models.asr.paraformer import quiet_funasr

    with quiet_funasr():  # FunASR's import prints a notice about ffmpeg to stdout
        import funasr  # noqa: F401  (registers the model classes)
    from funasr.register import tables

    cfg = copy.deepcopy(config)
    model_class = tables.model_classes.get(cfg["model"])
    if model_class is None:
        raise ValueError(f"FunASR has no model class {cfg['model']!r}")
    kwargs = {**cfg, **cfg.get("model_conf", {})}
    kwargs["vocab_size"] = vocab_size or len(token_inventory())
    kwargs["input_size"] = FEATURE_DIM
    return model_class(**kwargs)


def write_cmvn(path: Path, mean: np.ndarray, std: np.ndarray) -> None:
    """Kaldi-nnet ``am.mvn`` as FunASR reads it: AddShift = -mean, Rescale = 1/std (one value per feature)."""
    dim = mean.shape[0]
    shift = " ".join(f"{-v:.6f}" for v in mean)
    scale = " ".join(f"{1.0 / max(v, 1e-5):.6f}" for v in std)
    path.write_text(
        f"<Nnet>\n<Splice> {dim} {dim}\n[ 0 ]\n<AddShift> {dim} {dim}\n<LearnRateCoef> 0 [ {shift} ]\n"
        f"<Rescale> {dim} {dim}\n<LearnRateCoef> 0 [ {scale} ]\n</Nnet>\n", encoding="utf-8")


def read_cmvn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) from a Kaldi-nnet ``am.mvn`` (AddShift = −mean, Rescale = 1/std); ValueError when unreadable."""
    import re

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None

    def values(tag: str) -> np.ndarray:
        m = re.search(rf"<{tag}>\s*\d+\s+\d+\s*(?:<LearnRateCoef>\s*[-\d.eE+]+\s*)?\[([^\]]*)\]", text)
        if m is None:
            raise ValueError(f"{path}: no <{tag}> values")
        return np.array([float(v) for v in m.group(1).split()], np.float64)

    shift, scale = values("AddShift"), values("Rescale")
    if shift.shape != scale.shape or not shift.size or np.any(scale == 0):
        raise ValueError(f"{path}: <AddShift> and <Rescale> must be non-empty, of one length, scale non-zero")
    return -shift, 1.0 / scale


def read_folder_weights(folder: str | Path) -> tuple[dict[str, torch.Tensor], np.ndarray, np.ndarray]:
    """(float32 state dict, mean, std) of a FunASR model folder (this project's or FunASR's own); ValueError
    naming what is wrong (the runtime's :func:`~models.asr.paraformer.check_model_folder`)."""
    from models.asr.paraformer import AsrModelError, check_model_folder

    try:
        folder = check_model_folder(folder)
    except AsrModelError as exc:
        raise ValueError(str(exc)) from None
    weights = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    if "model" in weights and isinstance(weights["model"], dict):
        weights = weights["model"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    mean, std = read_cmvn(folder / "am.mvn")
    return state, mean, std


def write_model_folder(out: str | Path, config: dict, state_dict: dict, mean: np.ndarray, std: np.ndarray,
                       card: dict | None = None) -> Path:
    """Write a FunASR model folder (``config.yaml``, ``model.pt``, ``tokens.json``, ``am.mvn``[, ``card.json``])."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (out / "tokens.json").write_text(json.dumps(token_inventory(), ensure_ascii=False, indent=0), encoding="utf-8")
    write_cmvn(out / "am.mvn", np.asarray(mean, np.float64), np.asarray(std, np.float64))
    tmp = out / "model.pt.tmp"
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
    tmp.replace(out / "model.pt")
    if card is not None:
        (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
