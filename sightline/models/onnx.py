"""One way to open an ONNX model with onnxruntime on the CPU, for every ONNX backend."""

from __future__ import annotations

from pathlib import Path

from sightline.errors import ConfigError, ModelError


def create_session(model_path: str | Path, threads: int | None = None, *, spin: bool = True):
    """An onnxruntime CPU session for ``model_path``.

    ``threads`` sets ``intra_op_num_threads`` (None: onnxruntime's choice). ``spin=False`` stops idle
    worker threads from busy-waiting, so a model run between other stages does not steal their CPU.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        if threads < 0:
            raise ConfigError(f"threads must be 0 (automatic) or more, got {threads}", code="bad_threads")
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load ONNX model {model_path}: {exc}", code="model_load_failed") from None
