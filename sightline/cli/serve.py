"""``sightline serve``: the REST API and web UI on one port (SQLite + in-process index by default)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sightline.cli.gallery import DbOption, HomeOption
from sightline.cli.options import FACE_BACKEND_HELP
from sightline.cli.output import console, handle_errors


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (keep 127.0.0.1 unless behind TLS)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Server processes."),
    home: Path | None = HomeOption,
    db_url: str | None = DbOption,
    backend: str = typer.Option("auto", "--backend", "-b", help=FACE_BACKEND_HELP),
    models: Path | None = typer.Option(None, "--models", help="Folder with model files (default: $SIGHTLINE_MODELS)."),
    index: str = typer.Option("exact", "--index", help="Vector index: exact, hnsw, ivf, or sharded (shard actors "
                              "on the --cluster; SIGHTLINE_INDEX_SHARDS, default 4)."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", min=0.01, help="Largest request body accepted."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    cameras: Path | None = typer.Option(None, "--cameras", help="Camera YAML config: run its cameras in the "
                                        "background (events, live view); needs --workers 1."),
    cluster: str | None = typer.Option(None, "--cluster", help="Run the cameras as actors on a Ray cluster: auto, "
                                       "HOST:PORT or ray://HOST:PORT (needs pip install 'sightline[cluster]')."),
    inference_workers: int = typer.Option(0, "--inference-workers", min=0, max=64, help="Face detection and "
                                          "embedding for API requests in this many worker processes (0: threads "
                                          "of the server process; with --cluster: Ray tasks)."),
    retention_every: float = typer.Option(60.0, "--retention-every", min=0, help="Minutes between retention runs "
                                          "(expired subjects erased; with --cameras also old events and snapshots); "
                                          "the first runs at start; 0 turns it off."),
) -> None:
    """Start the server. A fresh data folder is initialised and, if there is no admin key yet,
    one is created and printed once."""
    import uvicorn

    from sightline.api.bootstrap import announce_admin_key, ensure_admin_key
    from sightline.gallery.gallery import Gallery

    env = {"SIGHTLINE_BACKEND": backend, "SIGHTLINE_INDEX": index,
           "SIGHTLINE_MAX_UPLOAD_BYTES": str(int(max_upload_mb * 1024 * 1024))}
    if home is not None:
        env["SIGHTLINE_HOME"] = str(home.expanduser().resolve())
    if db_url:
        env["SIGHTLINE_DB_URL"] = db_url
    if models is not None:
        env["SIGHTLINE_MODELS"] = str(models.expanduser().resolve())
    env["SIGHTLINE_CAMERAS"] = ""  # no cameras unless --cameras names a config
    env["SIGHTLINE_RETENTION_EVERY_MIN"] = str(retention_every)  # the server's retention job, cameras or not
    if cameras is not None:
        env.update(_cameras_env(cameras, workers))
    env["SIGHTLINE_CLUSTER"] = _cluster_env(cluster, index)
    env["SIGHTLINE_INFERENCE_WORKERS"] = str(inference_workers)
    os.environ.update(env)  # the worker processes build their app from these
    with handle_errors(False), Gallery.open(home, db_url, create_key=True) as gallery:
        new = ensure_admin_key(gallery, actor="sightline-serve")
        where = gallery.home
    if new is not None:  # printed on a terminal only; otherwise written to a 0600 file (never into logs)
        announce_admin_key(new, where)
    console.print(f"Sightline on http://{host}:{port}/  (data: {where}, workers: {workers}, API docs: /docs)",
                  highlight=False)
    uvicorn.run("sightline.api.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=False, server_header=False,
                timeout_graceful_shutdown=3)  # open live-view streams must not hold up a shutdown


def _cameras_env(path: Path, workers: int) -> dict[str, str]:
    """Validate the camera config now (errors name the bad key) and pass it to the server process."""
    from sightline.errors import ConfigError
    from sightline.video.config import load_config

    with handle_errors(False):
        if workers > 1:
            raise ConfigError("--cameras runs the cameras in one server process: use --workers 1")
        config = load_config(path)
    for warning in config.warnings():
        console.print(f"[yellow]warning[/]: {warning}", highlight=False)
    names = ", ".join(config.enabled_cameras()) or "none enabled"
    console.print(f"Cameras from {path}: {names}", highlight=False)
    return {"SIGHTLINE_CAMERAS": str(path.expanduser().resolve())}


def _cluster_env(address: str | None, index: str) -> str:
    """Check ``--cluster`` and the cluster settings now (a clear error before the server starts); '' runs the
    cameras in this process."""
    from sightline.errors import ConfigError

    with handle_errors(False):
        if not address:
            if index == "sharded":
                raise ConfigError("--index sharded keeps the gallery in shard actors on a Ray cluster: "
                                  "give --cluster too", code="bad_index")
            return ""
        from sightline.cluster.cameras import camera_cpus
        from sightline.cluster.gallery_index import shard_count
        from sightline.cluster.runtime import require_ray, validate_address

        require_ray()
        camera_cpus()  # SIGHTLINE_CAMERA_CPUS
        if index == "sharded":
            shard_count()  # SIGHTLINE_INDEX_SHARDS
        return validate_address(address)
