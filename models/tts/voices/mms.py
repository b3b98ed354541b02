"""MMS-TTS voices (a transformers ``VitsModel`` folder, e.g. ``facebook/mms-tts-ben``) → the project's VITS.

The folder holds ``config.json`` (``model_type: vits``), ``vocab.json`` (character → id),
``tokenizer_config.json`` (``add_blank``, ``normalize``, ``is_uroman``) and the weights
(``model.safetensors`` or ``pytorch_model.bin``). The tokenizer is reproduced as transformers'
``VitsTokenizer`` works: lower-cased, characters outside the vocabulary dropped, id 0 between
characters. transformers itself is not needed to load the voice.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from models.tts.vits import Vits, VitsConfig
from models.tts.voice import SynthesisSettings, VoiceError, read_json
from models.tts.voices.checkpoints import (
    build_vits,
    load_safetensors,
    load_torch_state,
    renumber,
    require,
)
from models.tts.voices.tokens import CharTokens

_RULES = [
    (r"text_encoder\.embed_tokens\.weight", r"enc_p.emb.weight"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.attention\.([qkv])_proj\.(.+)", r"enc_p.encoder.attn.\1.conv_\2.\3"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.attention\.out_proj\.(.+)", r"enc_p.encoder.attn.\1.conv_o.\2"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.attention\.(emb_rel_[kv])", r"enc_p.encoder.attn.\1.\2"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.layer_norm\.weight", r"enc_p.encoder.norm_1.\1.gamma"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.layer_norm\.bias", r"enc_p.encoder.norm_1.\1.beta"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.final_layer_norm\.weight", r"enc_p.encoder.norm_2.\1.gamma"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.final_layer_norm\.bias", r"enc_p.encoder.norm_2.\1.beta"),
    (r"text_encoder\.encoder\.layers\.(\d+)\.feed_forward\.(conv_[12])\.(.+)", r"enc_p.encoder.ffn.\1.\2.\3"),
    (r"text_encoder\.project\.(.+)", r"enc_p.proj.\1"),
    (r"posterior_encoder\.conv_pre\.(.+)", r"enc_q.pre.\1"),
    (r"posterior_encoder\.conv_proj\.(.+)", r"enc_q.proj.\1"),
    (r"posterior_encoder\.wavenet\.in_layers\.(.+)", r"enc_q.enc.in_layers.\1"),
    (r"posterior_encoder\.wavenet\.res_skip_layers\.(.+)", r"enc_q.enc.res_skip.\1"),
    (r"flow\.flows\.(\d+)\.conv_pre\.(.+)", r"flow.couplings.\1.pre.\2"),
    (r"flow\.flows\.(\d+)\.conv_post\.(.+)", r"flow.couplings.\1.post.\2"),
    (r"flow\.flows\.(\d+)\.wavenet\.in_layers\.(.+)", r"flow.couplings.\1.enc.in_layers.\2"),
    (r"flow\.flows\.(\d+)\.wavenet\.res_skip_layers\.(.+)", r"flow.couplings.\1.enc.res_skip.\2"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.translate", r"dp.\1.\2.m"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.log_scale", r"dp.\1.\2.logs"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.conv_(pre|proj)\.(.+)", r"dp.\1.\2.\3.\4"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?conv_dds\.convs_dilated\.(.+)", r"dp.\1\2convs.sep.\3"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?conv_dds\.convs_pointwise\.(.+)", r"dp.\1\2convs.one.\3"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?conv_dds\.norms_([12])\.(\d+)\.weight",
     r"dp.\1\2convs.norm_\3.\4.gamma"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?conv_dds\.norms_([12])\.(\d+)\.bias",
     r"dp.\1\2convs.norm_\3.\4.beta"),
    (r"duration_predictor\.(post_)?conv_(pre|proj)\.(.+)", r"dp.\1\2.\3"),
    (r"decoder\.upsampler\.(.+)", r"dec.ups.\1"),
    (r"decoder\.(conv_pre|conv_post|resblocks)\.(.+)", r"dec.\1.\2"),
]
_COMPILED = [(re.compile(p), r) for p, r in _RULES]
_FIXED = {  # config fields whose value this VITS has built in
    "window_size": 4, "use_stochastic_duration_prediction": True, "hidden_act": "relu", "wavenet_kernel_size": 5,
    "wavenet_dilation_rate": 1, "duration_predictor_num_flows": 4, "duration_predictor_flow_bins": 10,
    "duration_predictor_tail_bound": 5.0, "duration_predictor_kernel_size": 3, "depth_separable_num_layers": 3,
    "depth_separable_channels": 2, "leaky_relu_slope": 0.1, "use_bias": True,
}


def rename(name: str) -> str | None:
    """transformers' ``VitsModel`` parameter name → the project's."""
    for pattern, repl in _COMPILED:
        if pattern.fullmatch(name):
            return pattern.sub(repl, name)
    return name  # unknown: reported by build_vits


def tokens_from_folder(folder: Path) -> CharTokens:
    """Vocabulary and tokenizer settings (``vocab.json`` + ``tokenizer_config.json``)."""
    vocab_map = read_json(folder / "vocab.json", "MMS vocabulary")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in vocab_map.values()):
        raise VoiceError(f"{folder / 'vocab.json'}: every entry must map a character to an integer id")
    n = max(vocab_map.values(), default=-1) + 1
    vocab = [f"<unused {i}>" for i in range(n)]
    for sym, i in vocab_map.items():
        require(i >= 0, folder / "vocab.json", f"negative id for {sym!r}")
        vocab[i] = sym
    tok_path = folder / "tokenizer_config.json"
    tok = read_json(tok_path, "MMS tokenizer settings") if tok_path.exists() else {}
    require(not tok.get("is_uroman", False), tok_path, "field 'is_uroman' is true: this voice reads romanised text "
            "(uroman), which is not supported")
    require(not tok.get("phonemize", False), tok_path, "field 'phonemize' is true: phoneme-input voices are not "
            "supported")
    require(n > 0, folder / "vocab.json", "the vocabulary is empty")
    return CharTokens(tuple(vocab), blank_id=0 if tok.get("add_blank", True) else None,
                      lowercase=bool(tok.get("normalize", True)), strip=True)


def vits_config(cfg: dict, n_vocab: int, source: Path) -> VitsConfig:
    require(cfg.get("model_type") == "vits", source, f"field 'model_type' is {cfg.get('model_type')!r}, not 'vits'")
    require(int(cfg.get("num_speakers", 1)) <= 1, source,
            f"field 'num_speakers' is {cfg.get('num_speakers')}: multi-speaker MMS voices are not supported")
    for key, want in _FIXED.items():
        if key in cfg:
            require(cfg[key] == want, source, f"field {key!r} is {cfg[key]!r}; this VITS has {want!r}")
    require(int(cfg.get("vocab_size", n_vocab)) == n_vocab, source,
            f"field 'vocab_size' is {cfg.get('vocab_size')} but vocab.json has {n_vocab} ids")
    hidden = int(cfg.get("hidden_size", 192))
    rates = tuple(cfg.get("upsample_rates", (8, 8, 2, 2)))
    hop = 1
    for r in rates:
        hop *= int(r)
    try:
        return VitsConfig(
            n_vocab=n_vocab, sample_rate=int(cfg.get("sampling_rate", 16000)),
            n_fft=(int(cfg.get("spectrogram_bins", 513)) - 1) * 2, hop=hop,
            inter_channels=int(cfg.get("flow_size", 192)), hidden_channels=hidden,
            filter_channels=int(cfg.get("ffn_dim", 768)), n_heads=int(cfg.get("num_attention_heads", 2)),
            n_layers=int(cfg.get("num_hidden_layers", 6)), kernel_size=int(cfg.get("ffn_kernel_size", 3)),
            resblock_kernel_sizes=tuple(cfg.get("resblock_kernel_sizes", (3, 7, 11))),
            resblock_dilations=tuple(tuple(d) for d in cfg.get("resblock_dilation_sizes", ((1, 3, 5),) * 3)),
            upsample_rates=rates, upsample_kernel_sizes=tuple(cfg.get("upsample_kernel_sizes", (16, 16, 4, 4))),
            upsample_initial_channel=int(cfg.get("upsample_initial_channel", 512)),
            posterior_layers=int(cfg.get("posterior_encoder_num_wavenet_layers", 16)),
            flow_layers=int(cfg.get("prior_encoder_num_wavenet_layers", 4)),
            n_flows=int(cfg.get("prior_encoder_num_flows", 4)), dp_filter_channels=hidden)
    except (ValueError, TypeError) as exc:
        raise VoiceError(f"{source}: the config does not describe a VITS this project can build ({exc})") from None


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], Path]:
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = folder / name
        if path.is_file():
            state = load_safetensors(path) if path.suffix == ".safetensors" else load_torch_state(path)
            return state, path
    raise VoiceError(f"{folder}: no weights (model.safetensors or pytorch_model.bin)")


def load(path: Path) -> tuple[Vits, CharTokens, SynthesisSettings]:
    """The project's VITS with the MMS voice's weights, its vocabulary, and its inference settings."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    cfg = read_json(folder / "config.json", "MMS config.json")
    tokens = tokens_from_folder(folder)
    config = vits_config(cfg, len(tokens.vocab), folder / "config.json")
    state, weights = read_weights(folder)
    state = {k.removeprefix("vits."): v for k, v in state.items()}
    state = renumber(state, "flow.flows", lambda k: k)
    state = renumber(renumber(state, "duration_predictor.flows", lambda k: 0 if k == 0 else 2 * k - 1),
                     "duration_predictor.post_flows", lambda k: 0 if k == 0 else 2 * k - 1)
    model = build_vits(config, state, rename, weights)
    rate = float(cfg.get("speaking_rate", 1.0))
    require(rate > 0, folder / "config.json", "field 'speaking_rate' must be positive")
    settings = SynthesisSettings(noise_scale=float(cfg.get("noise_scale", 0.667)), length_scale=1.0 / rate,
                                 noise_w=float(cfg.get("noise_scale_duration", 0.8)))
    return model, tokens, settings
