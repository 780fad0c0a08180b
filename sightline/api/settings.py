"""Server settings: where the data lives, which face backend, upload limits, thread-pool size."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sightline.config import default_data_dir
from sightline.errors import ConfigError

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MiB per request body


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass
class ApiSettings:
    """Everything ``create_app`` needs; every field has a working default (``SIGHTLINE_*`` env vars)."""

    home: Path = field(default_factory=default_data_dir)
    db_url: str | None = field(default_factory=lambda: os.environ.get("SIGHTLINE_DB_URL") or None)
    models_dir: str | None = field(default_factory=lambda: os.environ.get("SIGHTLINE_MODELS") or None)
    backend: str = field(default_factory=lambda: os.environ.get("SIGHTLINE_BACKEND", "auto"))
    max_upload_bytes: int = field(default_factory=lambda: _env_int("SIGHTLINE_MAX_UPLOAD_BYTES",
                                                                   DEFAULT_MAX_UPLOAD_BYTES))
    inference_threads: int = field(default_factory=lambda: _env_int("SIGHTLINE_INFERENCE_THREADS",
                                                                    max(1, min(4, os.cpu_count() or 1))))
    # face inference for API requests in worker processes (0: the threads above); with cluster: Ray actors
    inference_workers: int = field(default_factory=lambda: _env_int("SIGHTLINE_INFERENCE_WORKERS", 0))
    cluster: str | None = field(default_factory=lambda: os.environ.get("SIGHTLINE_CLUSTER", "").strip() or None)
    index_kind: str = field(default_factory=lambda: os.environ.get("SIGHTLINE_INDEX", "exact"))
    index_refresh_s: float = field(default_factory=lambda: float(os.environ.get("SIGHTLINE_INDEX_REFRESH_S", "0")))
    cameras_config: Path | None = field(default_factory=lambda: Path(os.environ["SIGHTLINE_CAMERAS"])
                                        if os.environ.get("SIGHTLINE_CAMERAS") else None)
    retention_every_min: float = field(default_factory=lambda: float(os.environ.get("SIGHTLINE_RETENTION_EVERY_MIN",
                                                                                    "60")))
    # /metrics: "key" (an admin API key or SIGHTLINE_METRICS_TOKEN; the default) or "open" (no key, opt-in)
    metrics_access: str = field(default_factory=lambda: os.environ.get("SIGHTLINE_METRICS", "key").strip().lower())
    metrics_token: str | None = field(default_factory=lambda: os.environ.get("SIGHTLINE_METRICS_TOKEN") or None,
                                      repr=False)
    serve_web: bool = True

    def __post_init__(self) -> None:
        if self.metrics_access not in ("key", "open"):
            raise ConfigError(f"SIGHTLINE_METRICS must be 'key' or 'open', not {self.metrics_access!r}")
        if self.inference_workers < 0:
            raise ConfigError(f"SIGHTLINE_INFERENCE_WORKERS must be 0 or more, not {self.inference_workers}")

    def public_dict(self) -> dict[str, object]:
        """Settings safe to show an admin (no secrets live here)."""
        return {"home": str(self.home), "db": _redact_url(self.db_url) if self.db_url else "sqlite (default)",
                "models_dir": self.models_dir, "backend": self.backend, "max_upload_bytes": self.max_upload_bytes,
                "inference_threads": self.inference_threads, "inference_workers": self.inference_workers,
                "cluster": self.cluster, "index_kind": self.index_kind,
                "index_refresh_s": self.index_refresh_s,
                "cameras_config": str(self.cameras_config) if self.cameras_config else None,
                "retention_every_min": self.retention_every_min, "metrics_access": self.metrics_access,
                "metrics_token_set": self.metrics_token is not None, **_decode_limits()}


def _decode_limits() -> dict[str, object]:
    """The process's image-decode gate (SIGHTLINE_MAX_DECODE_BYTES and friends)."""
    from sightline.vision.decode_gate import decode_gate

    gate = decode_gate()
    return {"max_decode_bytes": gate.budget_bytes, "max_concurrent_decodes": gate.slots,
            "decode_wait_s": gate.wait_s}


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable>"
