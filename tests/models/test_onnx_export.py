"""models.onnx_export: int8 storage of fake-quantised weights gives the same numbers in a smaller file."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from models.onnx_export import store_int8_weights


def _qdq_conv_model(rng: np.random.Generator) -> onnx.ModelProto:
    w = rng.standard_normal((8, 4, 3)).astype(np.float32)
    scale = (np.abs(w).reshape(8, -1).max(1) / 127).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(scale, "w_scale"),
             numpy_helper.from_array(np.zeros(8, np.int8), "w_zero")]
    nodes = [
        helper.make_node("QuantizeLinear", ["w", "w_scale", "w_zero"], ["w_q"], axis=0),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
        helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(np.ones(8, np.float32))),
        helper.make_node("Conv", ["x", "w_dq", "b"], ["y"], pads=[1, 1]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_int8_weights_same_output_smaller_model() -> None:
    rng = np.random.default_rng(0)
    model = _qdq_conv_model(rng)
    packed = copy.deepcopy(model)
    assert store_int8_weights(packed) == 1
    onnx.checker.check_model(packed)
    inits = {t.name: numpy_helper.to_array(t) for t in packed.graph.initializer}
    assert "w" not in inits and inits["w_q"].dtype == np.int8  # the float weight is gone
    assert "QuantizeLinear" not in {n.op_type for n in packed.graph.node}
    assert len(packed.SerializeToString()) < len(model.SerializeToString())
    x = rng.standard_normal((1, 4, 16)).astype(np.float32)
    np.testing.assert_array_equal(_run(packed, x), _run(model, x))


def test_activation_quantizers_and_float_graphs_are_left_alone() -> None:
    model = _qdq_conv_model(np.random.default_rng(1))
    q = model.graph.node[0]
    q.input[0] = "x"  # a QuantizeLinear of a graph input (an activation), not of a weight
    model.graph.node[3].input[1] = "w"  # the conv itself reads the float weight
    before = model.SerializeToString()
    assert store_int8_weights(model) == 0
    assert model.SerializeToString() == before
