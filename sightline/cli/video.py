"""``sightline video process`` (files) and ``sightline watch`` (live cameras)."""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, HomeOption, JsonOption
from sightline.cli.output import console, emit_json, emit_json_line, err_console, handle_errors
from sightline.errors import ConfigError
from sightline.events.models import Event, EventType, utcnow
from sightline.plates.config import PlatesConfig
from sightline.video.motion import MotionConfig
from sightline.video.pipeline import CameraPipeline, FrameResult
from sightline.video.ports import VideoGallery
from sightline.video.reconnect import ReconnectingSource, StatusEvent
from sightline.video.runner import build_pipeline, run
from sightline.video.sources import FrameSource, is_live
from sightline.video.writer import VideoWriter

app = typer.Typer(help="Process video files into tracks and events.", no_args_is_help=True)

FpsOption = typer.Option(5.0, "--fps", min=0.1, max=60, help="Frames per second to analyse.")
ClassesOption = typer.Option("person", "--classes", help="Comma-separated COCO classes to track.")
FacesOption = typer.Option(True, "--faces/--no-faces", help="Recognise enrolled people in person tracks.")
MotionOption = typer.Option(True, "--motion/--no-motion", help="Skip detection on still frames.")
CameraOption = typer.Option(None, "--camera", help="Camera name used in events (default: the file name).")
SnapshotsOption = typer.Option(None, "--snapshots", help="Folder for track snapshots (unknown faces blurred).")
PlatesOption = typer.Option(False, "--plates", help="Read licence plates: one vehicle_passage event per vehicle "
                            "(plate voted over frames, list hits, enrolled driver).")
PlateRegionOption = typer.Option("eu", "--plate-region", help="Plate formats: eu or us.")
DriverSideOption = typer.Option("any", "--driver-side", help="Where the driver sits in the vehicle box: "
                                "left, right or any.")

_COLOURS = {EventType.PERSON_SEEN: "bold green", EventType.UNKNOWN_PERSON: "yellow",
            EventType.TRACK_START: "cyan", EventType.TRACK_END: "dim", EventType.VEHICLE_PASSAGE: "bold blue"}


def _describe(event: Event) -> str:
    who = f" [bold]{event.subject_name}[/] ({event.score:.3f})" if event.subject_name else ""
    track = f" #{event.track_id}" if event.track_id is not None else ""
    zone = f" zone={event.zone}" if event.zone else ""
    if event.type is EventType.VEHICLE_PASSAGE:
        hit = event.data.get("list_hit") or {}
        plate = event.data.get("plate") or ("unlisted" if event.data.get("plate_hash") else "no plate")
        zone += f" plate={plate} list={hit.get('match')}" + (f"/{hit['list']}" if hit.get("list") else "")
    style = _COLOURS.get(event.type, "white")
    return f"[{style}]{event.type.value:<15}[/] {event.camera} {event.label}{track}{zone}{who}"


@app.command()
def process(
    video_arg: str = typer.Argument(..., metavar="VIDEO", help="Video file."),
    out: Path | None = typer.Option(None, "--out", help="Write an annotated video here (unknown faces blurred)."),
    fps: float = FpsOption, classes: str = ClassesOption, faces: bool = FacesOption, motion: bool = MotionOption,
    camera: str | None = CameraOption, snapshots: Path | None = SnapshotsOption,
    plates: bool = PlatesOption, plate_region: str = PlateRegionOption, driver_side: str = DriverSideOption,
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Detect, track and recognise in a video file; events go to the database (and stdout)."""
    with handle_errors(as_json):
        if is_live(video_arg):
            raise ConfigError(f"{video_arg} is a live source: use `sightline watch`")
        video = Path(video_arg)
        plate_settings = _plate_settings(plates, plate_region, driver_side)
        source = FrameSource(video, fps=fps).open()  # a bad file fails here, before anything is created
        gallery = open_gallery(home, db_url, actor or "video-process", create_key=True)
        with gallery:
            video_start = utcnow()  # event times: this instant + the position in the video, not the wall clock
            pipeline = _pipeline(camera or video.stem, gallery, classes, motion, faces, snapshots, video_start,
                                 plate_settings)
            info = source.info
            total = int(info.duration_s * info.fps) if info and info.duration_s and info.fps else None
            writer = VideoWriter(out, fps) if out else None
            with source, Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} frames"),
                                  TimeRemainingColumn(), console=err_console, disable=as_json) as progress:
                task = progress.add_task(video.name, total=total)

                def after(result: FrameResult) -> None:
                    progress.update(task, completed=source.frames_decoded)
                    if writer is not None:
                        writer.write(result.annotated())
                    if not as_json:
                        for event in result.events:
                            progress.console.print(_describe(event), highlight=False)

                try:
                    run(pipeline, source, after)
                finally:
                    if writer is not None:
                        writer.close()
    if as_json:
        emit_json({"video": str(video), "video_start": video_start.isoformat(), "annotated": str(out) if out else None,
                   "warnings": source.warnings,
                   "stats": pipeline.stats(), "events": [e.to_dict() for e in pipeline.events]})
    else:
        stats = pipeline.stats()
        console.print(f"{stats['frames']} frames analysed, {stats['skipped_by_motion']} skipped as still; "
                      f"events: {stats['events']}")
        for warning in source.warnings:
            err_console.print(f"[yellow]warning[/]: {warning}")
        if out:
            console.print(f"annotated video: {out}")


def watch(
    source: str = typer.Argument(..., help="rtsp://, http(s):// URL, webcam index or /dev/videoN."),
    fps: float = FpsOption, classes: str = ClassesOption, faces: bool = FacesOption, motion: bool = MotionOption,
    camera: str | None = CameraOption, snapshots: Path | None = SnapshotsOption,
    plates: bool = PlatesOption, plate_region: str = PlateRegionOption, driver_side: str = DriverSideOption,
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Watch a live camera and print events as they happen (Ctrl-C stops); reconnects on its own.

    With --json every event and status change is one JSON document per line (JSON Lines).
    """
    with handle_errors(as_json):
        plate_settings = _plate_settings(plates, plate_region, driver_side)
        gallery = open_gallery(home, db_url, actor or "watch", create_key=True)
        with gallery:
            name = camera or "camera"
            pipeline = _pipeline(name, gallery, classes, motion, faces, snapshots, plates=plate_settings)

            def status(change: StatusEvent) -> None:
                if as_json:
                    emit_json_line({"status": change.status.value, "error": change.error})
                else:
                    err_console.print(f"[dim]{name}: {change.status.value}[/] {change.error or ''}", highlight=False)

            live = ReconnectingSource(int(source) if source.isdigit() else source, fps=fps, on_status=status)
            signal.signal(signal.SIGTERM, lambda *_: live.stop())

            def after(result: FrameResult) -> None:
                for event in result.events:
                    if as_json:
                        emit_json_line(event.to_dict())
                    else:
                        console.print(_describe(event), highlight=False)

            try:
                run(pipeline, live, after)
            except KeyboardInterrupt:
                live.stop()
    if not as_json:
        console.print(f"stopped: {pipeline.stats()['frames']} frames analysed")


def _plate_settings(enabled: bool, region: str, driver_side: str) -> PlatesConfig | None:
    """The ``--plates`` options validated like the camera YAML's ``plates:`` (a clear error, never a trace)."""
    if not enabled:
        return None
    try:
        return PlatesConfig(enabled=True, region=region, driver_side=driver_side)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"--plates: {reasons}") from None


def _pipeline(camera: str, gallery: VideoGallery, classes: str, motion: bool, faces: bool,
              snapshots: Path | None, video_start: datetime | None = None,
              plates: PlatesConfig | None = None) -> CameraPipeline:
    """The pipeline both commands run, from their shared flags; events go to the gallery's database.

    ``video_start`` (files): event times are that instant plus the frame's position in the video.
    """
    return build_pipeline(camera, gallery=gallery, classes=[c.strip() for c in classes.split(",") if c.strip()],
                          motion=MotionConfig() if motion else None, face_recognition=faces,
                          snapshot_dir=snapshots or gallery.home / "snapshots", video_start=video_start,
                          plates=plates)
