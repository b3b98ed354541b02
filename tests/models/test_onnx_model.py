"""models.onnx_model.BoundStep: the I/O-bound streaming step gives session.run's numbers, step after step."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from models.aec.res.runtime import SHIPPED_MODEL as RES_MODEL
from models.onnx_model import BoundStep
from models.vad.runtime import SHIPPED_MODEL as VAD_MODEL


def _session(path) -> ort.InferenceSession:  # noqa: ANN001
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("path", [VAD_MODEL, RES_MODEL], ids=["vad", "res"])
def test_bound_step_equals_session_run_over_many_steps(path) -> None:  # noqa: ANN001
    sess = _session(path)
    state_shape = tuple(int(v) for v in sess.get_modelmeta().custom_metadata_map["state_shape"].split(","))
    step = BoundStep(sess, state_shape)
    rng = np.random.default_rng(3)
    shapes = {i.name: i.shape for i in sess.get_inputs() if i.name != "state"}
    assert step.input_names == list(shapes)
    state = np.zeros((1, *state_shape), np.float32)
    for k in range(30):
        feed = {name: rng.standard_normal(shape).astype(np.float32) * 3 for name, shape in shapes.items()}
        *want, state = sess.run(None, {**feed, "state": state})
        got = step.run(feed)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(step.state, state)
        if k == 20:  # the returned arrays are copies: the next step does not change them
            kept = [g.copy() for g in got]
            step.run(feed)
            state = sess.run(None, {**feed, "state": state})[-1]
            for g, c in zip(got, kept, strict=True):
                np.testing.assert_array_equal(g, c)
    step.reset()
    assert not step.state.any()
    with pytest.raises(ValueError, match="needs input"):  # a missing input is an error, never NaN
        step.run({**feed, next(iter(shapes)): None})


def test_bound_step_needs_fixed_shapes() -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "state"], ["y"]), helper.make_node("Identity", ["y"], ["state_out"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2]),
         helper.make_tensor_value_info("state_out", TensorProto.FLOAT, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="no fixed shape"):
        BoundStep(sess, (2,))
