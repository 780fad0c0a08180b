"""One camera worker of the server: its thread, its pipeline, its status and its latest frame for the live view.

A :class:`CameraWorker` reads frames (a file once, a live stream through
:class:`~sightline.video.reconnect.ReconnectingSource`), runs the camera pipeline and sends its events to the
service's shared sink. A worker that raises is logged, marked ``failed`` and restarted with backoff. The latest
frame is kept and encoded on demand, with every face that is not a named enrolled match blurred (by default).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import cv2

from sightline.events.sink import EventSink
from sightline.privacy.redact import blur_regions
from sightline.video.config import CameraConfig, SightlineConfig, redact_url
from sightline.video.pipeline import CameraPipeline, FrameResult
from sightline.video.ports import VideoGallery
from sightline.video.reconnect import Backoff, ReconnectingSource, StatusEvent, StreamStatus
from sightline.video.runner import pipeline_from_config, run
from sightline.video.sources import Frame, FrameSource
from sightline.vision.objects.labels import COCO_LABELS

log = logging.getLogger(__name__)

FPS_WINDOW = 30  # frames over which the achieved rate is measured
JPEG_QUALITY = 80


class CameraStatus(StrEnum):
    """Life cycle of one camera worker."""

    STARTING = "starting"
    CONNECTING = "connecting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    RESTARTING = "restarting"  # the worker raised and waits for its backoff before starting again
    FINISHED = "finished"  # a file camera reached the end of its file
    FAILED = "failed"  # gave up (a file camera failed too often, or a stream's retries ran out)
    STOPPED = "stopped"


_STREAM_TO_CAMERA = {StreamStatus.CONNECTING: CameraStatus.CONNECTING, StreamStatus.CONNECTED: CameraStatus.RUNNING,
                     StreamStatus.RECONNECTING: CameraStatus.RECONNECTING, StreamStatus.FAILED: CameraStatus.FAILED}


@dataclass(frozen=True)
class ServiceOptions:
    """Timings of the service; the defaults suit production, tests shorten them."""

    restart_backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=1.0, factor=2.0, max_s=60.0))
    max_file_restarts: int = 3  # a file camera that keeps failing is left failed after this many restarts
    stream_backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.5, factor=2.0, max_s=30.0))
    stream_timeout_s: float = 5.0
    inference_threads: int | None = None  # onnxruntime threads of each camera's object detector (None: per core)
    # Not read here: retention is one of the server's jobs (sightline.jobs, ``serve --retention-every``). Kept so
    # callers that set it still construct their options.
    retention_every_s: float = 3600.0


class CameraHost(Protocol):
    """What a worker uses of its camera service."""

    config: SightlineConfig
    options: ServiceOptions
    gallery: VideoGallery
    sink: EventSink
    snapshot_dir: Path
    stopping: threading.Event


class CameraWorker:
    """One camera: its thread, its pipeline and what it reports."""

    def __init__(self, name: str, config: CameraConfig, service: CameraHost,
                 stop: threading.Event | None = None, video_start: datetime | None = None) -> None:
        """``stop``: this camera's own stop signal (a camera removed or changed while the others run); by default
        the service's. ``video_start``: a file camera's events are timed on the video's timeline from this
        instant instead of the wall clock (a replayed run then makes the same events)."""
        self.name, self.config, self.service = name, config, service
        self.video_start = video_start
        self.status = CameraStatus.STARTING
        self.last_error: str | None = None
        self.restarts = 0
        self.frames = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.last_frame_at: float | None = None
        self.frame_size: tuple[int, int] | None = None
        self.event_counts: Counter[str] = Counter()
        self.stats: dict[str, Any] = {}
        self._times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._run_started: float | None = None
        self._run_frames = 0
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._render_lock = threading.Lock()
        self._stop = stop if stop is not None else service.stopping
        self._live: ReconnectingSource | None = None
        self.thread = threading.Thread(target=self._main, name=f"sightline-camera-{name}", daemon=True)

    # -- thread -------------------------------------------------------------------------------
    def _main(self) -> None:
        self.started_at = time.time()
        while not self._stop.is_set():
            try:
                self._run_once()
            except Exception as exc:  # isolate: log, mark failed, restart with backoff
                log.exception("camera %s failed", self.name)
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.restarts += 1
                if self.config.source_kind == "file" and self.restarts > self.service.options.max_file_restarts:
                    self._set(CameraStatus.FAILED)
                    return
                self._set(CameraStatus.RESTARTING)
                self._stop.wait(self.service.options.restart_backoff.delay(self.restarts))
                continue
            if self._stop.is_set():
                break
            if self.config.source_kind == "file":
                self.finished_at = time.time()
                self._set(CameraStatus.FINISHED)
                return
            if self.status is CameraStatus.FAILED:  # a stream with bounded retries gave up
                return
            self._stop.wait(1.0)  # a live source ended without being stopped: open it again
        self._set(CameraStatus.STOPPED)

    def _set(self, status: CameraStatus) -> None:
        if status is not self.status:
            log.info("camera %s: %s%s", self.name, status.value, f" ({self.last_error})" if self.last_error and
                     status in (CameraStatus.FAILED, CameraStatus.RESTARTING, CameraStatus.RECONNECTING) else "")
        self.status = status

    def _frames(self) -> Iterator[Frame]:
        options = self.service.options
        path = self.config.file_path  # set exactly for file sources
        if path is not None:
            self._set(CameraStatus.CONNECTING)
            return iter(FrameSource(path, fps=self.config.fps, stop_event=self._stop))
        self._live = ReconnectingSource(self.config.url, fps=self.config.fps, timeout_s=options.stream_timeout_s,
                                        backoff=options.stream_backoff, on_status=self._on_stream_status)
        if self._stop.is_set():
            self._live.stop()
        return iter(self._live)

    def _on_stream_status(self, change: StatusEvent) -> None:
        if change.error:
            self.last_error = change.error
        if change.status in _STREAM_TO_CAMERA:
            self._set(_STREAM_TO_CAMERA[change.status])

    def _run_once(self) -> None:
        frames = self._frames()
        first = next(frames, None)
        if first is None:
            return
        height, width = first.image_bgr.shape[:2]
        self.frame_size = (width, height)
        pipeline = pipeline_from_config(self.name, self.config, gallery=self.service.gallery,
                                        snapshot_dir=self.service.snapshot_dir,
                                        blur_unknown_faces=self.service.config.privacy.blur_unknown_faces,
                                        sink=self.service.sink, frame_size=(width, height),
                                        video_start=self.video_start,
                                        detector_threads=self.service.options.inference_threads)
        self._run_started, self._run_frames = time.monotonic(), 0
        self._set(CameraStatus.RUNNING)
        try:
            run(pipeline, itertools.chain([first], frames), lambda result: self._after(pipeline, result))
        finally:
            with self._lock:  # the closing events emitted by pipeline.finish()
                self.event_counts.update(event.type.value for event in pipeline.events)
                pipeline.events.clear()
            self._publish_counts({})
            self._live = None

    def _after(self, pipeline: CameraPipeline, result: FrameResult) -> None:
        now = time.monotonic()
        labels = Counter(COCO_LABELS[t.class_id] for t in result.tracks if t.det_index is not None)
        self._publish_counts(labels)
        with self._lock:
            self.frames += 1
            self._run_frames += 1
            self._times.append(now)
            self.last_frame_at = time.time()
            self.event_counts.update(event.type.value for event in result.events)
            pipeline.events.clear()  # counted above; a camera that runs for weeks must not grow a list
            self.stats = pipeline.stats()
            self._latest = result
            self._seq += 1

    def _publish_counts(self, counts: Counter[str] | dict[str, int]) -> None:
        wanted = {label: counts.get(label, 0) for label in self.config.classes}
        try:
            self.service.sink.publish_counts(self.name, wanted)
        except Exception:  # an output problem must not stop the camera
            log.exception("camera %s: publishing counts failed", self.name)

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        if self._stop is not self.service.stopping:
            self._stop.set()  # a camera with its own stop signal ends on its own
        live = self._live
        if live is not None:
            live.stop()

    # -- reporting ----------------------------------------------------------------------------
    @property
    def frame_seq(self) -> int:
        """Increases with every processed frame (0: none yet)."""
        return self._seq

    def fps(self) -> float:
        """Frames processed per second over the last few frames (0 while idle or before two frames)."""
        with self._lock:
            times = list(self._times)
        if len(times) < 2 or (self.status is not CameraStatus.RUNNING):
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def fps_average(self) -> float:
        """Frames processed per second over the current (or last) run of this camera."""
        with self._lock:
            if self._run_started is None or self._run_frames < 2 or not self._times:
                return 0.0
            return (self._run_frames - 1) / max(self._times[-1] - self._run_started, 1e-6)

    def to_dict(self) -> dict[str, Any]:
        """Status for the API: state, last error, rates, frames, motion-skipped fraction, stage times."""
        with self._lock:
            stats = dict(self.stats)
            counts = dict(self.event_counts)
        return {
            "name": self.name, "kind": self.config.source_kind, "url": redact_url(self.config.url),
            "status": self.status.value, "last_error": self.last_error, "restarts": self.restarts,
            "frames": self.frames, "fps_target": self.config.fps, "fps": round(self.fps(), 2),
            "fps_average": round(self.fps_average(), 2),
            "skipped_fraction": stats.get("skipped_fraction", 0.0),
            "stage_ms_per_frame": stats.get("stage_ms_per_frame", {}), "events": counts,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "face_recognition": self.config.face_recognition.enabled,
            "started_at": _iso(self.started_at), "last_frame_at": _iso(self.last_frame_at),
            "finished_at": _iso(self.finished_at), "has_frame": self._latest is not None,
        }

    def latest_jpeg(self) -> tuple[int, bytes] | None:
        """(frame sequence number, JPEG) of the latest processed frame, annotated; None before the first.

        Faces that are not a named enrolled match are blurred (unless the config's privacy section turns
        that off). On frames where the pipeline did not look for faces (still frames, no person tracked)
        the faces are found here, so an unknown face never appears in the live view in the clear.
        """
        with self._render_lock:
            with self._lock:
                result, seq, cached = self._latest, self._seq, self._jpeg
            if result is None:
                return None
            if cached is not None and cached[0] == seq:
                return cached
            blur = self.service.config.privacy.blur_unknown_faces
            image = result.annotated(blur_unknown_faces=blur)
            if blur and not result.faces:
                boxes = [f.box for f in self.service.gallery.faces.detect_array(result.frame.image_bgr, embed=False)]
                if boxes:
                    image = blur_regions(image, boxes)
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                return None
            self._jpeg = (seq, encoded.tobytes())
            return self._jpeg


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
