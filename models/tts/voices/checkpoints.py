"""Weights of other VITS implementations → the project's :class:`models.tts.vits.Vits`.

A converter (:mod:`coqui`, :mod:`mms`) renames each parameter to the project's name; this module
reads the files safely, folds weight normalisation into plain weights (every representation: plain
``weight``, ``weight_g``/``weight_v``, ``parametrizations.weight.original0/1``), checks that every
name and shape fits, and refuses with a message naming what does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from models.tts.vits import Vits, VitsConfig, remove_weight_norm
from models.tts.voice import VoiceError

Rename = Callable[[str], str | None]  # source name → project name, or None to skip the tensor


def load_torch_state(path: Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a torch checkpoint, read with ``weights_only=True`` (``key``: the entry holding them)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise VoiceError(f"{path}: missing") from None
    except Exception as exc:  # unpickling raises many types for a corrupt or unsafe file
        raise VoiceError(f"{path}: cannot be read as a torch checkpoint with weights_only=True ({exc})") from None
    if key is not None and isinstance(ckpt, dict) and key in ckpt:
        ckpt = ckpt[key]
    if not isinstance(ckpt, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise VoiceError(f"{path}: no state dict of tensors" + (f" under '{key}'" if key else ""))
    return ckpt


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise VoiceError(f"{path}: not a readable safetensors file ({exc})") from None


def fold_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every weight-normalised parameter as one plain ``….weight`` (g · v / ‖v‖, norm over all but dim 0)."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, t in state.items():
        m = re.fullmatch(r"(.*)\.(?:parametrizations\.weight\.original([01])|weight_([gv]))", name)
        if m is None:
            out[name] = t
            continue
        part = "g" if (m[2] == "0" or m[3] == "g") else "v"
        pairs.setdefault(m[1], {})[part] = t
    for prefix, gv in pairs.items():
        if set(gv) != {"g", "v"}:
            raise VoiceError(f"weight norm of {prefix!r} is incomplete (has only {sorted(gv)})")
        v = gv["v"].float()
        dims = list(range(1, v.dim()))
        out[prefix + ".weight"] = gv["g"].float() * v / torch.linalg.vector_norm(v, dim=dims, keepdim=True)
    return out


def renumber(state: dict[str, torch.Tensor], prefix: str, index_map: Callable[[int], int]) -> dict[str, torch.Tensor]:
    """Renumber the modules right under ``prefix`` (``prefix.N.…``): the k-th distinct N (in order) becomes
    ``index_map(k)`` (converts lists with and without parameter-free Flip modules between the layers)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(.*)")
    found = sorted({int(m[1]) for k in state if (m := pattern.fullmatch(k))})
    rank = {n: index_map(k) for k, n in enumerate(found)}
    out = {}
    for k, t in state.items():
        m = pattern.fullmatch(k)
        out[f"{prefix}.{rank[int(m[1])]}.{m[2]}" if m else k] = t
    return out


def count_modules(state: Iterable[str], prefix: str) -> int:
    """How many distinct ``prefix.N.`` modules the names hold."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    return len({m[1] for k in state if (m := pattern.match(k))})


def build_vits(config: VitsConfig, state: dict[str, torch.Tensor], rename: Rename, source: Path) -> Vits:
    """A project :class:`Vits` (weight norm folded, eval mode) holding ``state`` renamed by ``rename``.

    Raises :class:`VoiceError` listing names the model needs but the file lacks, and shapes that differ."""
    model = remove_weight_norm(Vits(config)).eval()
    want = model.state_dict()
    got: dict[str, torch.Tensor] = {}
    for name, t in fold_weight_norm(state).items():
        new = rename(name)
        if new is None:
            continue
        if new in want and want[new].dim() == t.dim() + 1 and want[new].shape[-1] == 1:
            t = t.unsqueeze(-1)  # a Linear layer where the project has a 1×1 convolution
        got[new] = t
    missing = [k for k in want if k not in got]
    unexpected = [k for k in got if k not in want]
    wrong = [f"{k}: file {tuple(got[k].shape)}, model {tuple(want[k].shape)}"
             for k in want if k in got and got[k].shape != want[k].shape]
    if missing or unexpected or wrong:
        lines = [f"{len(missing)} missing (e.g. {', '.join(missing[:4])})"] if missing else []
        lines += [f"{len(unexpected)} unknown (e.g. {', '.join(unexpected[:4])})"] if unexpected else []
        lines += [f"{len(wrong)} with another shape (e.g. {'; '.join(wrong[:3])})"] if wrong else []
        raise VoiceError(f"{source}: the weights do not fit the VITS its config describes: {', '.join(lines)}")
    model.load_state_dict({k: got[k].float() for k in want})
    return model


def require(cond: bool, source: Path, message: str) -> None:
    """Refuse a checkpoint whose configuration this converter cannot represent."""
    if not cond:
        raise VoiceError(f"{source}: {message}")
