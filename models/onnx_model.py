"""Open a shipped ONNX model on onnxruntime and check the contract in its metadata (no torch)."""

from __future__ import annotations

from pathlib import Path

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
