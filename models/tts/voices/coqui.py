"""Coqui TTS VITS voices (``config.json`` + ``model.pth``, character input) → the project's VITS.

Coqui's Bangla voices (``tts_models/bn/custom/vits-male`` and ``vits-female``, the paper's) are
single-speaker VITS with a stochastic duration predictor reading characters. The vocabulary is
rebuilt the way Coqui's character classes build it, the parameters are renamed one to one
(:func:`rename`), and configurations this VITS cannot represent (speaker or language embeddings,
phoneme input, another decoder type) are refused with the field that says so.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from models.tts.vits import Vits, VitsConfig
from models.tts.voice import SynthesisSettings, VoiceError, read_json
from models.tts.voices.checkpoints import (
    build_vits,
    count_modules,
    load_torch_state,
    renumber,
    require,
)
from models.tts.voices.tokens import CharTokens

log = logging.getLogger(__name__)

KNOWN_CLEANERS = {None, "", "no_cleaners", "basic_cleaners", "multilingual_cleaners", "phoneme_cleaners",
                  "english_cleaners", "collapse_whitespace"}

_RULES = [  # (source pattern, project name); applied in order, the first that matches wins
    (r"text_encoder\.emb\.weight", r"enc_p.emb.weight"),
    (r"text_encoder\.encoder\.attn_layers\.(\d+)\.(.+)", r"enc_p.encoder.attn.\1.\2"),
    (r"text_encoder\.encoder\.norm_layers_([12])\.(\d+)\.(gamma|beta)", r"enc_p.encoder.norm_\1.\2.\3"),
    (r"text_encoder\.encoder\.ffn_layers\.(\d+)\.(.+)", r"enc_p.encoder.ffn.\1.\2"),
    (r"text_encoder\.proj\.(.+)", r"enc_p.proj.\1"),
    (r"posterior_encoder\.(pre|proj)\.(.+)", r"enc_q.\1.\2"),
    (r"posterior_encoder\.enc\.in_layers\.(.+)", r"enc_q.enc.in_layers.\1"),
    (r"posterior_encoder\.enc\.res_skip_layers\.(.+)", r"enc_q.enc.res_skip.\1"),
    (r"flow\.flows\.(\d+)\.(pre|post)\.(.+)", r"flow.couplings.\1.\2.\3"),
    (r"flow\.flows\.(\d+)\.enc\.in_layers\.(.+)", r"flow.couplings.\1.enc.in_layers.\2"),
    (r"flow\.flows\.(\d+)\.enc\.res_skip_layers\.(.+)", r"flow.couplings.\1.enc.res_skip.\2"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.translation", r"dp.\1.\2.m"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.log_scale", r"dp.\1.\2.logs"),
    (r"duration_predictor\.((?:post_)?flows)\.(\d+)\.(pre|proj)\.(.+)", r"dp.\1.\2.\3.\4"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?convs\.convs_sep\.(.+)", r"dp.\1\2convs.sep.\3"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?convs\.convs_1x1\.(.+)", r"dp.\1\2convs.one.\3"),
    (r"duration_predictor\.((?:post_)?flows\.\d+\.)?(post_)?convs\.norms_([12])\.(.+)", r"dp.\1\2convs.norm_\3.\4"),
    (r"duration_predictor\.(pre|proj|post_pre|post_proj)\.(.+)", r"dp.\1.\2"),
    (r"waveform_decoder\.(conv_pre|conv_post|ups|resblocks)\.(.+)", r"dec.\1.\2"),
]
_COMPILED = [(re.compile(p), r) for p, r in _RULES]
_SKIPPED = re.compile(r"disc\..*|.*\.num_batches_tracked")


def rename(name: str) -> str | None:
    """Coqui's parameter name → the project's (None: not part of the generator)."""
    if _SKIPPED.fullmatch(name):
        return None
    for pattern, repl in _COMPILED:
        if pattern.fullmatch(name):
            return pattern.sub(repl, name)
    return name  # unknown: reported by build_vits


def vocabulary(chars: dict, source: Path) -> list[str]:
    """Coqui's id → symbol list for a ``characters`` config section (``VitsCharacters``, ``Graphemes``/base
    characters, or an explicit ``vocab_dict``), built as Coqui builds it."""
    if chars.get("vocab_dict"):
        vd = chars["vocab_dict"]
        return [s for s, _ in sorted(vd.items(), key=lambda kv: kv[1])] if isinstance(vd, dict) else list(vd)
    cls = str(chars.get("characters_class") or "")
    characters = chars.get("characters")
    require(isinstance(characters, str) and characters != "", source, "field 'characters.characters' is missing")
    punctuations = chars.get("punctuations") or ""
    if cls.endswith("VitsCharacters"):
        graphemes = characters + (chars.get("phonemes") or "")
        return [chars.get("pad") or "<PAD>", *punctuations, *graphemes, "<BLNK>"]
    require(cls == "" or cls.endswith(("Graphemes", "BaseCharacters")), source,
            f"field 'characters.characters_class' is {cls!r}; this converter reads VitsCharacters and Graphemes")
    vocab = list(characters)
    if chars.get("is_unique", True):
        require(bool(chars.get("is_sorted", True)), source,
                "characters with is_unique=true and is_sorted=false have no fixed order in Coqui itself")
        vocab = sorted(set(vocab))
    elif chars.get("is_sorted", True):
        vocab = sorted(vocab)
    for special in ("blank", "bos", "eos", "pad"):  # Coqui prepends them in this order
        if chars.get(special):
            vocab = [chars[special], *vocab]
    return vocab + list(punctuations)


def _index(vocab: list[str], symbol: str | None) -> int | None:
    """The id Coqui gives ``symbol`` (the last position when it occurs twice, as Coqui's table does)."""
    if not symbol or symbol not in vocab:
        return None
    return len(vocab) - 1 - vocab[::-1].index(symbol)


def tokens_from_config(cfg: dict, source: Path) -> CharTokens:
    """The character vocabulary and the id layout of Coqui's tokenizer for this config."""
    require(not cfg.get("use_phonemes", False), source,
            "field 'use_phonemes' is true: phoneme-input Coqui voices are not supported (character voices are)")
    chars = cfg.get("characters")
    require(isinstance(chars, dict), source, "field 'characters' is missing: which characters does the voice read?")
    vocab = vocabulary(chars, source)
    cleaner = cfg.get("text_cleaner")
    if cleaner not in KNOWN_CLEANERS:
        log.warning("%s: text_cleaner %r is not known here; reading the text NFC-normalised and lower-cased "
                    "(as most of Coqui's cleaners do), the rest of the normalisation is the project's Bangla "
                    "front-end", source, cleaner)
    blank = _index(vocab, "<BLNK>" if str(chars.get("characters_class") or "").endswith("VitsCharacters")
                   else chars.get("blank"))
    if cfg.get("add_blank", True):
        require(blank is not None, source, "field 'add_blank' is true but the vocabulary has no blank symbol")
    eos_bos = bool(cfg.get("enable_eos_bos_chars", False))
    bos, eos = _index(vocab, chars.get("bos")), _index(vocab, chars.get("eos"))
    if eos_bos:
        require(bos is not None and eos is not None, source,
                "field 'enable_eos_bos_chars' is true but 'characters.bos'/'characters.eos' are not in the vocabulary")
    return CharTokens(tuple(vocab), blank_id=blank if cfg.get("add_blank", True) else None,
                      bos_id=bos if eos_bos else None, eos_id=eos if eos_bos else None,
                      lowercase=cleaner not in (None, "", "no_cleaners", "collapse_whitespace"), strip=True,
                      unicode_form=None if cleaner in (None, "", "no_cleaners", "collapse_whitespace") else "NFC")


def vits_config(cfg: dict, state: dict[str, torch.Tensor], n_vocab: int, source: Path) -> VitsConfig:
    """The project's :class:`VitsConfig` equal to Coqui's ``model_args`` + ``audio``; refuses what it cannot hold."""
    require(cfg.get("model", "vits") == "vits", source, f"field 'model' is {cfg.get('model')!r}, not 'vits'")
    args = cfg.get("model_args")
    require(isinstance(args, dict), source, "field 'model_args' is missing")
    audio = cfg.get("audio")
    require(isinstance(audio, dict), source, "field 'audio' is missing")
    for key in ("use_speaker_embedding", "use_d_vector_file", "use_language_embedding"):
        require(not args.get(key, False), source, f"field 'model_args.{key}' is true: multi-speaker or "
                "multilingual Coqui voices are not supported (single-speaker ones are)")
    require(args.get("use_sdp", True), source, "field 'model_args.use_sdp' is false: only the stochastic duration "
            "predictor is supported")
    require(str(args.get("resblock_type_decoder", "1")) == "1", source,
            "field 'model_args.resblock_type_decoder' must be '1' (HiFi-GAN ResBlock1)")
    require(args.get("encoder_sample_rate") in (None, 0), source, "field 'model_args.encoder_sample_rate' is set: "
            "voices with an upsampled encoder are not supported")
    for key, want in (("kernel_size_posterior_encoder", 5), ("kernel_size_flow", 5),
                      ("dilation_rate_posterior_encoder", 1), ("dilation_rate_flow", 1)):
        require(args.get(key, want) == want, source, f"field 'model_args.{key}' is {args.get(key)!r}; "
                f"this VITS has {want}")
    hidden = int(args.get("hidden_channels", 192))
    require(count_modules(state, "duration_predictor.flows") == 5, source,
            "the duration predictor does not have 4 flows after its affine layer")
    fft = int(audio.get("fft_size", 1024))
    try:
        return VitsConfig(
            n_vocab=n_vocab, sample_rate=int(audio.get("sample_rate", 22050)), n_fft=fft,
            hop=int(audio.get("hop_length", 256)), inter_channels=hidden, hidden_channels=hidden,
            filter_channels=int(args.get("hidden_channels_ffn_text_encoder", 768)),
            n_heads=int(args.get("num_heads_text_encoder", 2)), n_layers=int(args.get("num_layers_text_encoder", 6)),
            kernel_size=int(args.get("kernel_size_text_encoder", 3)),
            resblock_kernel_sizes=tuple(args.get("resblock_kernel_sizes_decoder", (3, 7, 11))),
            resblock_dilations=tuple(tuple(d) for d in args.get("resblock_dilation_sizes_decoder", ((1, 3, 5),) * 3)),
            upsample_rates=tuple(args.get("upsample_rates_decoder", (8, 8, 2, 2))),
            upsample_kernel_sizes=tuple(args.get("upsample_kernel_sizes_decoder", (16, 16, 4, 4))),
            upsample_initial_channel=int(args.get("upsample_initial_channel_decoder", 512)),
            posterior_layers=int(args.get("num_layers_posterior_encoder", 16)),
            flow_layers=int(args.get("num_layers_flow", 4)), n_flows=count_modules(state, "flow.flows"),
            dp_filter_channels=int(state["duration_predictor.pre.weight"].shape[0])
            if "duration_predictor.pre.weight" in state else 192)
    except (ValueError, TypeError) as exc:
        raise VoiceError(f"{source}: the config does not describe a VITS this project can build ({exc})") from None


def find_checkpoint(path: Path) -> tuple[Path, Path]:
    """(model.pth, config.json) for a folder, a config.json or a .pth file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_file() and path.suffix in (".pth", ".pt", ".tar"):
        return path, folder / "config.json"
    for name in ("model.pth", "model_file.pth", "best_model.pth"):
        if (folder / name).is_file():
            return folder / name, folder / "config.json"
    found = sorted(folder.glob("*.pth"))
    if len(found) != 1:
        raise VoiceError(f"{folder}: expected model.pth (or one .pth file) next to config.json, found {len(found)}")
    return found[0], folder / "config.json"


def load(path: Path) -> tuple[Vits, CharTokens, SynthesisSettings]:
    """The project's VITS with the Coqui voice's weights, its vocabulary, and its inference settings."""
    weights, config_path = find_checkpoint(path)
    cfg = read_json(config_path, "Coqui's config.json")
    tokens = tokens_from_config(cfg, config_path)
    state = load_torch_state(weights, key="model")
    for key in state:
        require(not key.startswith(("emb_g", "emb_l", "speaker_encoder")), weights,
                f"parameter {key!r}: multi-speaker or multilingual voices are not supported")
    state = renumber(state, "flow.flows", lambda k: k)  # 0..3, also when Flip modules sat between them
    config = vits_config(cfg, state, len(tokens.vocab), config_path)
    state = renumber(renumber(state, "duration_predictor.flows", lambda k: 0 if k == 0 else 2 * k - 1),
                     "duration_predictor.post_flows", lambda k: 0 if k == 0 else 2 * k - 1)
    model = build_vits(config, state, rename, weights)
    args = cfg.get("model_args", {})
    settings = SynthesisSettings(noise_scale=float(args.get("inference_noise_scale", 0.667)),
                                 length_scale=float(args.get("length_scale", 1.0)),
                                 noise_w=float(args.get("inference_noise_scale_dp", 1.0)))
    return model, tokens, settings
