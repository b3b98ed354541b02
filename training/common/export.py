"""ONNX export shared by the recipes: one streaming step with metadata, and the checked export command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

MAX_DIFFERENCE = 1e-4  # largest |torch − onnxruntime| an export may show


def metadata_from_checkpoint(ckpt_path: Path) -> dict:
    """``train_step`` and ``valid_metrics`` of a checkpoint, for the exported file's metadata."""
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    meta = {"train_step": ckpt.get("step", "")}
    metrics = json.loads(ckpt.get("metrics") or "null")
    if metrics:
        meta["valid_metrics"] = json.dumps(metrics)
    return meta


def export_checked(checkpoint: Path, out: Path, load_model: Callable[[Path], torch.nn.Module],
                   export_onnx: Callable[..., Path], max_difference: Callable[[torch.nn.Module, Path], float]) -> int:
    """The ``export`` sub-command: checkpoint → ONNX, compared with torch; exit code (1 on a bad checkpoint or a
    difference above :data:`MAX_DIFFERENCE`)."""
    try:
        model = load_model(checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = export_onnx(model, out, metadata_from_checkpoint(checkpoint))
    diff = max_difference(model, path)
    print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB); max |torch - onnx| = {diff:.2e}")
    return 0 if diff <= MAX_DIFFERENCE else 1


def read_unfused_dfsmn(path: Path, model: torch.nn.Module) -> dict[str, str]:
    """Fill ``model`` (a :class:`~models.dfsmn.DfsmnLayer` stack: the VAD or the RES) with the weights of a file
    exported before the fused step (``streaming_forward`` traced as it is); returns the file's metadata.

    Such a graph keeps every parameter as an initializer named ``model.<name>`` except, per layer in graph order,
    the projection (a MatMul by its transpose) and the memory taps (a Mul by their transpose), which are found by
    their shapes. ValueError when the graph is not such an export. The caller checks the result against the file.
    """
    import onnx
    from onnx import numpy_helper

    from models.dfsmn import DfsmnLayer

    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises several types for a bad file
        raise ValueError(f"{path} is not a readable ONNX file: {exc}") from None
    weights = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    layers = [m for m in model.modules() if isinstance(m, DfsmnLayer)]
    project_shape = tuple(layers[0].project.weight.shape[::-1])
    taps_shape = tuple(layers[0].taps.shape[::-1])
    project = [weights[n.input[1]] for n in proto.graph.node
               if n.op_type == "MatMul" and n.input[1] in weights and weights[n.input[1]].shape == project_shape]
    taps = [weights[name] for n in proto.graph.node if n.op_type == "Mul" for name in n.input
            if name in weights and weights[name].shape == taps_shape]
    if len(project) != len(layers) or len(taps) != len(layers):
        raise ValueError(f"{path}: {len(project)} projections and {len(taps)} tap sets for {len(layers)} layers: "
                         "not an unfused export")
    found = {}
    for name in model.state_dict():
        if name.endswith("project.weight") or name.endswith(".taps"):
            continue
        if f"model.{name}" not in weights:
            raise ValueError(f"{path}: no initializer model.{name}: not an unfused export of this model")
        found[name] = torch.from_numpy(weights[f"model.{name}"].copy())
    names = [n for n, m in model.named_modules() if isinstance(m, DfsmnLayer)]
    for i, name in enumerate(names):
        found[f"{name}.project.weight"] = torch.from_numpy(project[i].T.copy())  # traced as x @ Wᵀ
        found[f"{name}.taps"] = torch.from_numpy(taps[i].T.copy())  # traced as picked · tapsᵀ
    model.load_state_dict(found)
    model.eval()
    return {p.key: p.value for p in proto.metadata_props}


def reexport_checked(source: Path, out: Path, read_back: Callable[[Path], tuple[torch.nn.Module, dict[str, str]]],
                     export_onnx: Callable[..., Path], max_difference: Callable[[torch.nn.Module, Path], float]) -> int:
    """The ``export --from-onnx`` sub-command: an older export → the current graph form with the same weights and its
    training metadata, compared with torch and with the source file; exit code (1 on a bad file or a difference
    above :data:`MAX_DIFFERENCE`)."""
    try:
        model, meta = read_back(source)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kept = {k: meta[k] for k in ("train_step", "valid_metrics") if k in meta}
    path = export_onnx(model, out, kept)
    diff = max(max_difference(model, path), max_difference(model, source))
    print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB) from {source}; max |torch - onnx| = {diff:.2e}")
    return 0 if diff <= MAX_DIFFERENCE else 1
