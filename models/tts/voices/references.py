"""Reference voices with random weights, built by the reference libraries themselves (tests and benchmarks).

Nothing is downloaded: ``piper`` writes a project VITS in Piper's files (espeak phonemes, Piper's
default id map, as piper-tts reads it); ``mms`` saves a transformers ``VitsModel`` folder with
``save_pretrained``; ``coqui`` saves Coqui TTS's own ``Vits`` (``config.json`` + ``model.pth``). Sizes:
``tiny`` for tests, ``real`` for the published voices' sizes (Piper medium, ``facebook/mms-tts-ben``,
Coqui's default VITS as in the paper).

Coqui's package refuses to import without torchaudio/torchcodec, which it needs only to read and
resample audio files; :func:`build_coqui` runs it in a child process with empty stand-ins for them
on ``PYTHONPATH`` (``python -m models.tts.voices.references coqui OUT SIZE [TEXT]``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

BANGLA_CHARACTERS = "অআইঈউঊএঐওঔকখগঘঙচছজঝঞটঠডঢণতথদধনপফবভমযরলশষসহড়ঢ়য়ািীুূৃেৈোৌ্ংঃঁ"
TINY_DECODER = {"upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8], "resblock_kernel_sizes": [3, 7],
                "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere (libraries initialise some layers to zero, which would hide a wrong mapping)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)


def build_piper(out: Path, size: str = "tiny", seed: int = 3) -> Path:
    """A Piper voice ``out`` (.onnx + .onnx.json): phoneme_type espeak, voice bn, Piper's default id map."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    from models.tts.vits import Vits, size_config
    from models.tts.vits.export import export_voice

    n = max(i for ids in DEFAULT_PHONEME_ID_MAP.values() for i in ids) + 1
    tiny = dict(inter_channels=16, hidden_channels=16, filter_channels=32, n_layers=2, upsample_initial_channel=32,
                posterior_layers=2, flow_layers=2, n_flows=2, dp_filter_channels=16)
    torch.manual_seed(seed)
    model = Vits(size_config("small", **tiny, n_vocab=n) if size == "tiny" else size_config("medium", n_vocab=n))
    out = export_voice(model.eval(), Path(out), quality="medium")
    out.with_name(out.name + ".json").write_text(json.dumps({
        "audio": {"sample_rate": 22050, "quality": "medium"}, "espeak": {"voice": "bn"},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8}, "phoneme_type": "espeak",
        "phoneme_map": {}, "phoneme_id_map": DEFAULT_PHONEME_ID_MAP, "num_symbols": n, "num_speakers": 1,
        "speaker_id_map": {}, "piper_version": "1.0.0", "language": {"code": "bn_BD"},
    }, ensure_ascii=False), encoding="utf-8")
    return out


def build_mms(folder: Path, size: str = "tiny", seed: int = 0) -> Path:
    """A transformers ``VitsModel`` folder (config.json, model.safetensors, vocab.json, tokenizer_config.json)."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"_": 0, **{c: i + 1 for i, c in enumerate(dict.fromkeys(" " + BANGLA_CHARACTERS))}}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    shape = {} if size == "real" else dict(hidden_size=48, ffn_dim=96, num_hidden_layers=2, flow_size=48,
                                            upsample_initial_channel=64, prior_encoder_num_wavenet_layers=2,
                                            posterior_encoder_num_wavenet_layers=2, **TINY_DECODER)
    torch.manual_seed(seed)
    model = VitsModel(VitsConfig(vocab_size=len(vocab), sampling_rate=16000, **shape)).eval()
    _perturb(model, seed)
    model.save_pretrained(folder)
    VitsTokenizer(str(folder / "vocab.json"), add_blank=True, normalize=True, phonemize=False).save_pretrained(folder)
    return folder


def build_coqui(out: Path, size: str = "tiny", text: str | None = None, timeout_s: float = 900) -> Path:
    """Coqui's own ``Vits`` saved in ``out/voice`` (config.json + model.pth); with ``text``, also
    ``out/reference.json``: Coqui's ids for it and its audio without noise ("quiet") and with noise from seed 5
    ("noisy"). Returns the voice folder. Runs Coqui in a child process (see the module's doc)."""
    out = Path(out)
    shim = out / "shim"
    for name in ("torchaudio", "torchcodec"):
        (shim / name).mkdir(parents=True, exist_ok=True)
        (shim / name / "__init__.py").write_text('"""Stand-in: Coqui TTS imports it; synthesis never uses it."""\n')
    root = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim), str(root)]))
    cmd = [sys.executable, "-m", "models.tts.voices.references", "coqui", str(out), size] + ([text] if text else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(f"building the Coqui reference failed:\n{proc.stderr[-3000:]}")
    return out / "voice"


def _coqui_child(out: Path, size: str, text: str | None) -> None:
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    shape = {} if size == "real" else dict(
        hidden_channels=48, hidden_channels_ffn_text_encoder=96, num_layers_text_encoder=2,
        num_layers_posterior_encoder=2, num_layers_flow=2, upsample_initial_channel_decoder=64,
        upsample_rates_decoder=[8, 8, 4], upsample_kernel_sizes_decoder=[16, 16, 8],
        resblock_kernel_sizes_decoder=[3, 7], resblock_dilation_sizes_decoder=[[1, 3, 5], [1, 3, 5]])
    chars = CharactersConfig(characters_class="TTS.tts.models.vits.VitsCharacters", pad="<PAD>", eos="<EOS>",
                             bos="<BOS>", blank="<BLNK>", characters=BANGLA_CHARACTERS, punctuations="।,!?-. ",
                             phonemes=None, is_unique=True, is_sorted=True)
    cfg = VitsConfig(model_args=VitsArgs(init_discriminator=False, **shape), characters=chars,
                     text_cleaner="multilingual_cleaners", add_blank=True, use_phonemes=False)
    torch.manual_seed(0)
    model = Vits.init_from_config(cfg).eval()
    _perturb(model, 0)
    voice = out / "voice"
    voice.mkdir(parents=True, exist_ok=True)
    (voice / "config.json").write_text(json.dumps(cfg.to_dict(), ensure_ascii=False, default=str), encoding="utf-8")
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "step": 1}, voice / "model.pth")
    if text:
        ids = model.tokenizer.text_to_ids(text)
        x = torch.tensor([ids])
        model.inference_noise_scale, model.inference_noise_scale_dp = 0.0, 0.0
        with torch.no_grad():
            quiet = model.inference(x)["model_outputs"].reshape(-1).tolist()
        model.inference_noise_scale, model.inference_noise_scale_dp = 0.667, 0.8
        torch.manual_seed(5)
        with torch.no_grad():
            noisy = model.inference(x)["model_outputs"].reshape(-1).tolist()
        (out / "reference.json").write_text(json.dumps({"ids": ids, "quiet": quiet, "noisy": noisy}),
                                            encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "coqui":
        sys.exit("usage: python -m models.tts.voices.references coqui OUT SIZE [TEXT]")
    _coqui_child(Path(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
