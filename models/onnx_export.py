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
    store_int8_weights(proto)
    del proto.metadata_props[:]
    for k, v in metadata.items():
        proto.metadata_props.add(key=k, value=str(v))
    onnx.save(proto, str(out))
    tmp.unlink(missing_ok=True)
    return out


def store_int8_weights(proto) -> int:  # noqa: ANN001 (onnx.ModelProto)
    """Replace every ``QuantizeLinear`` of a constant weight by its int8 result, in place; returns how many.

    The TorchScript exporter writes a fake-quantised weight as float initializer → QuantizeLinear →
    DequantizeLinear; onnxruntime folds the first step at load time anyway, so storing the int8 tensor
    gives the same numbers in a file about four times smaller for those weights.
    """
    import numpy as np
    from onnx import numpy_helper

    graph = proto.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    done, drop = 0, []
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) < 3 or any(n not in consts for n in node.input[:3]):
            continue
        x, scale, zero = (consts[n] for n in node.input[:3])
        if zero.dtype != np.int8:
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and scale.size > 1:
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        q = np.clip(np.round(x / scale) + zero.astype(np.int32), -128, 127).astype(np.int8)
        graph.initializer.append(numpy_helper.from_array(q, node.output[0]))
        drop.append(node)
        done += 1
    for node in drop:
        graph.node.remove(node)
    # Float weights (initializers or Constant nodes) now used by nothing are removed.
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]:
        graph.node.remove(node)
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return done
