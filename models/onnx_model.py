"""Open a shipped ONNX model on onnxruntime and check the contract in its metadata (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RANDOM_OPS = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")


def seeded_model_bytes(path: Path, seed: int) -> tuple[bytes, int]:
    """The model at ``path`` with a fixed ``seed`` attribute on each random-number node (``seed + i`` for the
    i-th, so two nodes draw different numbers); returns (serialised model, number of nodes seeded).

    onnxruntime seeds such a node's generator once, when the session is created, so a session made from these
    bytes draws the same sequence of numbers every time it is created: the same calls give the same output.
    """
    import onnx

    model = onnx.load(str(path))
    count = 0
    for node in model.graph.node:
        if node.op_type in RANDOM_OPS:
            kept = [a for a in node.attribute if a.name != "seed"]
            del node.attribute[:]
            node.attribute.extend(kept + [onnx.helper.make_attribute("seed", float(seed + count))])
            count += 1
    return model.SerializeToString(), count


def open_onnx_model(path: str | Path, required: dict[str, str], error: type[Exception], what: str,
                    threads: int = 1, seed: int | None = None):  # noqa: ANN201 (onnxruntime.InferenceSession)
    """Return (session, metadata dict) for ``path``; raise ``error`` with a clear message when the file is
    missing, is not a readable ONNX model, or its metadata differs from ``required``.

    ``seed``: fix the random-number nodes of the graph (see :func:`seeded_model_bytes`); None keeps them as
    they are (onnxruntime then seeds them from the clock: every session differs).
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise error(f"{what} model not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        source = str(path) if seed is None else seeded_model_bytes(path, seed)[0]
        session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several types for a bad file
        raise error(f"{path} is not a readable ONNX model: {exc}") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    for key, want in required.items():
        if meta.get(key) != want:
            raise error(f"{path}: metadata {key}={meta.get(key)!r}, this runtime needs {want!r}")
    return session, meta


def state_shape_from(meta: dict[str, str], path: Path, error: type[Exception]) -> tuple[int, ...]:
    """The ``state_shape`` metadata entry ("6,36,64") as a tuple."""
    try:
        return tuple(int(v) for v in meta["state_shape"].split(","))
    except (KeyError, ValueError):
        raise error(f"{path}: metadata state_shape is missing or malformed") from None


class BoundStep:
    """One streaming step of an exported model with explicit state, run through onnxruntime's I/O binding.

    ``BoundStep(session, state_shape).run({"features": x, ...})`` gives the model's other outputs, in graph
    order, for one step and keeps the state: the inputs are copied into buffers bound once, the state lives in
    two bound buffers that swap roles every step, so nothing is allocated or converted per step: the same
    numbers as ``session.run`` (tested) in 0.90x its time for the VAD step and 0.94x for the RES step
    (``benchmarks/onnx_step_bench.py``, idle machine, 2026-12-03; the per-call cost dominates models this small).
    Every input but ``state`` must have a fixed shape in the graph (the project's exports have).
    """

    def __init__(self, session, state_shape: tuple[int, ...], state_input: str = "state",  # noqa: ANN001
                 state_output: str = "state_out") -> None:
        import onnxruntime as ort

        self.session = session
        self._ort_value = ort.OrtValue.ortvalue_from_numpy
        self._state_input, self._state_output = state_input, state_output
        self._binding = session.io_binding()
        self._inputs = {node.name: self._bound(node, self._binding.bind_ortvalue_input)
                        for node in session.get_inputs() if node.name != state_input}
        self._outputs = [self._bound(node, self._binding.bind_ortvalue_output)
                         for node in session.get_outputs() if node.name != state_output]
        self._states = [np.zeros((1, *state_shape), np.float32) for _ in range(2)]
        self._state_values = [self._ort_value(s) for s in self._states]
        self._current = 0

    def _bound(self, node, bind) -> np.ndarray:  # noqa: ANN001 (an onnxruntime NodeArg and a bind method)
        """A zero float32 buffer of the node's fixed shape, bound to it once."""
        if not all(isinstance(d, int) for d in node.shape):
            raise ValueError(f"{node.name} has no fixed shape ({node.shape}); BoundStep needs one")
        buf = np.zeros(node.shape, np.float32)
        bind(node.name, self._ort_value(buf))
        return buf

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    @property
    def state(self) -> np.ndarray:
        """The state the next step starts from (a view; copy it to keep it)."""
        return self._states[self._current]

    def reset(self) -> None:
        """Start from the zero state."""
        self._states[self._current][...] = 0.0

    def run(self, inputs: dict[str, np.ndarray | None]) -> list[np.ndarray]:
        """One step: ``inputs`` maps every non-state input name to an array of its shape (or one that broadcasts
        to it); returns copies of the non-state outputs, in graph order."""
        for name, buf in self._inputs.items():
            value = inputs.get(name)
            if value is None:  # numpy would store None as NaN
                raise ValueError(f"the model needs input {name!r}, none was given")
            buf[...] = value
        nxt = 1 - self._current
        self._binding.bind_ortvalue_input(self._state_input, self._state_values[self._current])
        self._binding.bind_ortvalue_output(self._state_output, self._state_values[nxt])
        self.session.run_with_iobinding(self._binding)
        self._current = nxt
        return [out.copy() for out in self._outputs]
