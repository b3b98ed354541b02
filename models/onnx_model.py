"""Open a shipped ONNX model on onnxruntime and check the contract in its metadata (no torch)."""

from __future__ import annotations

from pathlib import Path


def open_onnx_model(path: str | Path, required: dict[str, str], error: type[Exception], what: str,
                    threads: int = 1):  # noqa: ANN201 (onnxruntime.InferenceSession)
    """Return (session, metadata dict) for ``path``; raise ``error`` with a clear message when the file is
    missing, is not a readable ONNX model, or its metadata differs from ``required``."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise error(f"{what} model not found: {path}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
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
