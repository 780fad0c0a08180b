"""Connecting to a Ray cluster: ``serve --cluster auto|HOST:PORT|ray://HOST:PORT``.

Ray is optional (``pip install 'sightline[cluster]'``); :func:`require_ray` turns its absence into a clear
:class:`~sightline.errors.ConfigError` instead of an ImportError deep in a worker. :func:`connect` joins the
cluster once per process (a second call with the same address is a no-op) and passes the model folder and the
loopback-only setting on to the cluster's workers through the job's runtime environment.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sightline.errors import ConfigError

# Environment variables every Ray worker of a Sightline job needs (model folder, data, thread caps).
PASSED_ENV = ("SIGHTLINE_MODELS", "SIGHTLINE_DATA", "SIGHTLINE_INDEX_THREADS", "OMP_NUM_THREADS",
              "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
_lock = threading.Lock()
_connected: str | None = None


def require_ray() -> Any:
    """The ``ray`` module, or a ConfigError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("running on a cluster needs Ray: pip install 'sightline[cluster]' (ray 2.60)",
                          code="ray_missing") from None
    return ray


def validate_address(address: str) -> str:
    """``auto``, ``HOST:PORT`` (a cluster's GCS address) or ``ray://HOST:PORT`` (Ray Client); else ConfigError."""
    address = address.strip()
    if address == "auto":
        return address
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--cluster {address!r}: use auto, HOST:PORT or ray://HOST:PORT", code="bad_cluster")
    return address


def connect(address: str, *, namespace: str = "sightline") -> Any:
    """Join the cluster at ``address`` (once per process) and return the ``ray`` module."""
    global _connected
    ray = require_ray()
    address = validate_address(address)
    with _lock:
        if ray.is_initialized():
            if _connected not in (None, address):
                raise ConfigError(f"already connected to the cluster at {_connected}, not {address}",
                                  code="bad_cluster")
            return ray
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        try:
            extra = {"_node_ip_address": "127.0.0.1"} if _on_loopback(address) and "://" not in address else {}
            ray.init(address=address, namespace=namespace, runtime_env={"env_vars": env},
                     log_to_driver=False, logging_level="warning", **extra)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address}: {exc}", code="cluster_unreachable") from None
        _connected = address
        return ray


def _on_loopback(address: str) -> bool:
    """True for a cluster on this machine's loopback (a driver there must not advertise another interface)."""
    host = address.rpartition(":")[0]
    return host in ("127.0.0.1", "localhost", "::1", "[::1]")


def disconnect() -> None:
    """Leave the cluster (the cluster itself keeps running)."""
    global _connected
    ray = require_ray()
    with _lock:
        if ray.is_initialized():
            ray.shutdown()
        _connected = None


def node_of_current_worker() -> dict[str, str]:
    """Where this Ray worker runs: node id and address (for camera status in the API and UI)."""
    ray = require_ray()
    context = ray.get_runtime_context()
    node_id = context.get_node_id()
    address = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id), "")
    return {"node_id": node_id, "node_address": address}
