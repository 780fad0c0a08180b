"""``sightline calibration build-cohort|show`` and ``sightline calibrate camera``: open-set operating points.

The cohort is built from LFW view-1 people (a public data set, never site faces) into the models
cache. A camera calibration embeds the faces in the camera's footage in memory only, compares them
with the cohort to measure that camera's impostor scores, stores the resulting curve (numbers only)
and audits the run with counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from sightline.calibration.cohort import Cohort, cohort_path, save_cohort
from sightline.calibration.lfw_cohort import cohort_images
from sightline.calibration.service import OpenSetService
from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, FaceBackendOption, HomeOption, JsonOption, ModelsOption
from sightline.cli.output import console, emit_json, handle_errors
from sightline.engine import FaceEngine
from sightline.errors import ConfigError, NoFaceError
from sightline.gallery.gallery import default_actor

calibration_app = typer.Typer(help="Open-set calibration: the cohort and the operating points in force.",
                              no_args_is_help=True)
calibrate_app = typer.Typer(help="Calibrate a camera's operating point on its own footage.", no_args_is_help=True)


@calibration_app.command("build-cohort")
def build_cohort(lfw: Path = typer.Option(..., "--lfw", help="LFW folder (images/ and pairsDevTrain.txt)."),
                 backend: str = FaceBackendOption, models: Path | None = ModelsOption,
                 limit: int = typer.Option(0, "--limit", help="Use only the first N cohort people (0: all)."),
                 as_json: bool = JsonOption) -> None:
    """Embed one face per LFW view-1 cohort person into the models cache, recording its sha256."""
    with handle_errors(as_json):
        images = cohort_images(lfw)
        if limit:
            images = images[:limit]
        missing = [p for p in images if not p.is_file()]
        if missing:
            raise ConfigError(f"{len(missing)} of {len(images)} cohort images are missing under {lfw}, e.g. "
                              f"{missing[0]}", code="not_found")
        engine = FaceEngine(backend, models_dir=str(models) if models else None).load()
        vectors, skipped = [], 0
        for path in images:
            try:
                vectors.append(engine.embed(path))
            except NoFaceError:
                skipped += 1
        cohort = Cohort(np.vstack(vectors) if vectors else np.zeros((0, engine.embedding_dim)), engine.spec.embedder,
                        f"LFW view 1 (pairsDevTrain), cohort half, {len(vectors)} people")
        target = cohort_path(engine.store.cache_dir, engine.spec.embedder)
        digest = save_cohort(cohort, target)
    info = {"path": str(target), "sha256": digest, "faces": len(vectors), "no_face": skipped,
            "embedder": engine.spec.embedder}
    if as_json:
        emit_json(info)
        return
    console.print(f"cohort of {len(vectors)} faces ({skipped} without a detected face skipped) -> {target}\n"
                  f"sha256 {digest}", highlight=False)


@calibration_app.command("show")
def show(home: Path | None = HomeOption, db_url: str | None = DbOption, backend: str = FaceBackendOption,
         models: Path | None = ModelsOption, as_json: bool = JsonOption) -> None:
    """The target stranger rate and the threshold it implies now, per condition and calibrated camera."""
    with handle_errors(as_json), open_gallery(home, db_url, backend=backend, models=models) as gallery:
        status = OpenSetService(gallery.sessions, gallery.audit, gallery.faces).status()
    if as_json:
        emit_json(status)
        return
    if not status["open_set"]:
        console.print(f"no open-set policy for {status['embedder']}: identification uses the 1:1 threshold")
        return
    console.print(f"target: {status['target']} ({status['score_kind']}), {status['templates']} templates enrolled")
    for name, point in status["conditions"].items():
        console.print(f"  {name}: threshold {point['threshold']}")
    for camera in status["cameras"]:
        console.print(f"  camera {camera['camera']}: {camera['target']}, threshold {camera['threshold']}")


@calibrate_app.command("camera")
def camera(name: str = typer.Argument(..., help="Camera name (as in the cameras config)."),
           source: str = typer.Option(..., "--source", help="Stream URL, video file, image or folder of images."),
           target_fpir: float = typer.Option(0.001, "--target-fpir", help="Strangers named, e.g. 0.001 = 1 in 1,000."),
           min_faces: int = typer.Option(20, "--min-faces", help="Refuse to calibrate on fewer usable faces."),
           fps: float = typer.Option(2.0, "--fps", help="Frames sampled per second of video."),
           max_frames: int = typer.Option(600, "--max-frames", help="Stop after this many frames."),
           home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
           backend: str = FaceBackendOption, models: Path | None = ModelsOption, as_json: bool = JsonOption) -> None:
    """Measure NAME's impostor scores on its footage (faces in memory only) and store its operating point."""
    from sightline.calibration.camera import frames_from

    with handle_errors(as_json), open_gallery(home, db_url, backend=backend, models=models) as gallery:
        service = OpenSetService(gallery.sessions, gallery.audit, gallery.faces)
        result = service.calibrate_camera(name, frames_from(source, fps=fps, max_frames=max_frames),
                                          target_fpir=target_fpir, actor=actor or default_actor(),
                                          min_faces=min_faces)
    if as_json:
        emit_json(result)
        return
    console.print(f"camera {name}: {result['target']} -> threshold {result['threshold']} ({result['score_kind']}, "
                  f"{result['comparisons']} templates); {result['faces_used']} faces used, "
                  f"{result['faces_refused']} too poor; no face data kept", highlight=False)
