"""Export one torch module to ONNX with metadata (used by the training recipes and by voice conversion)."""

from __future__ import annotations

from pathlib import Path

import torch


def export_step(step: torch.nn.Module, inputs: tuple[torch.Tensor, ...], input_names: list[str],
                output_names: list[str], out: Path, metadata: dict[str, str],
                dynamic_axes: dict[str, dict[int, str]] | None = None) -> Path:
    """Export ``step`` (opset 17, TorchScript exporter) to ``out`` with ``metadata`` as ONNX metadata; returns ``out``.

    ``dynamic_axes`` names the axes whose size varies between calls (none for a fixed-size streaming step)."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(step.eval(), inputs, str(tmp), input_names=input_names, output_names=output_names,
                          opset_version=17, dynamo=False, dynamic_axes=dynamic_axes)
    proto = onnx.load(str(tmp))
    del proto.metadata_props[:]
    for k, v in metadata.items():
        proto.metadata_props.add(key=k, value=str(v))
    onnx.save(proto, str(out))
    tmp.unlink(missing_ok=True)
    return out
