"""The one way Sightline opens an ONNX model: onnxruntime with configurable execution providers.

Providers come from the ``providers`` argument, else ``SIGHTLINE_PROVIDERS`` (comma-separated,
e.g. ``cuda,cpu``), else the CPU. Short names (``cpu``, ``cuda``, ``tensorrt``, ``openvino``,
``coreml``, ``directml``, ``rocm``) and onnxruntime's full names are both accepted. A provider this
onnxruntime build does not offer is a :class:`ConfigError`, never a silent fall back to the CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sightline.config import default_providers
from sightline.errors import ConfigError, ModelError

CPU = "CPUExecutionProvider"
_SHORT_NAMES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "rocm": "ROCMExecutionProvider",
}


def available_providers() -> list[str]:
    """Execution providers this onnxruntime build offers."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_providers(providers: Iterable[str] | str | None = None) -> list[str]:
    """Full onnxruntime provider names for ``providers`` (None: the setting), CPU appended as the fallback.

    Raises :class:`ConfigError` (code ``provider_unavailable``) for a provider that is not installed.
    """
    if providers is None:
        providers = default_providers()
    if isinstance(providers, str):
        providers = providers.split(",")
    wanted = [_SHORT_NAMES.get(p.strip().lower(), p.strip()) for p in providers if p.strip()]
    available = available_providers()
    missing = [p for p in wanted if p not in available]
    if missing:
        raise ConfigError(
            f"execution provider(s) {', '.join(missing)} not available in this onnxruntime "
            f"(available: {', '.join(available)}); install the matching onnxruntime package "
            "(e.g. onnxruntime-gpu for cuda, onnxruntime-openvino for openvino) or set SIGHTLINE_PROVIDERS=cpu",
            code="provider_unavailable",
        )
    resolved = list(dict.fromkeys(wanted))
    if CPU not in resolved:
        resolved.append(CPU)
    return resolved


def create_session(model_path: str | Path, *, providers: Iterable[str] | str | None = None,
                   threads: int | None = None, spin: bool = True):
    """An onnxruntime session for ``model_path`` on ``providers`` (None: ``SIGHTLINE_PROVIDERS``, else CPU).

    ``threads`` sets ``intra_op_num_threads`` (None: onnxruntime's choice). ``spin=False`` stops idle
    worker threads from busy-waiting, so a model run between other stages does not steal their CPU.
    """
    import onnxruntime as ort

    chosen = resolve_providers(providers)
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
        return ort.InferenceSession(str(model_path), options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load ONNX model {model_path}: {exc}", code="model_load_failed") from None
