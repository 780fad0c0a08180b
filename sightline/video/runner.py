"""Build a camera pipeline from settings and run it over a source (shared by the CLI and the server)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from sightline.engine import FaceEngine
from sightline.events.sink import EventSink
from sightline.events.snapshots import SnapshotWriter
from sightline.events.zones import Zone
from sightline.models.zoo import build_object_detector
from sightline.plates.config import PlatesConfig
from sightline.video.config import CameraConfig
from sightline.video.motion import MotionConfig
from sightline.video.pipeline import CameraPipeline, FrameResult, PipelineSettings
from sightline.video.plates_stage import build_vehicle_stage
from sightline.video.ports import VideoGallery
from sightline.video.recognition import GalleryRecognizer
from sightline.video.sources import Frame
from sightline.video.tracker import TrackerConfig


def build_pipeline(camera: str, *, gallery: VideoGallery | None = None, face_engine: FaceEngine | None = None,
                   classes: Iterable[str] = ("person",), min_score: float = 0.4, detector: str = "auto",
                   motion: MotionConfig | None = None, face_recognition: bool = True,
                   identify_every_n_frames: int = 3, blur_unknown_faces: bool = True,
                   snapshot_dir: str | Path | None = None, zones: list[Zone] | None = None,
                   sink: EventSink | None = None, detector_threads: int | None = None,
                   video_start: datetime | None = None, plates: PlatesConfig | None = None) -> CameraPipeline:
    """A ready pipeline; with a ``gallery`` its events are stored in the gallery's database.

    Detections from ``min_score`` up are reported and may start tracks; weaker ones (down to the
    tracker's ``low_score``) only keep existing tracks alive (ByteTrack's second pass). With
    ``video_start`` event times follow the video's own timeline (see :class:`PipelineSettings`).
    With ``plates`` enabled, vehicles are tracked too and each gets a ``vehicle_passage`` event.
    """
    classes = list(classes)
    if plates is not None and plates.enabled:
        from sightline.vision.plates.reader import VEHICLE_CLASSES

        classes += [c for c in VEHICLE_CLASSES if c not in classes]
    if face_recognition and "person" not in classes:
        classes.append("person")
    faces = face_engine or (gallery.faces if gallery is not None else FaceEngine())
    tracker = TrackerConfig(min_hits=2, lost_buffer=15, high_score=max(0.5, min_score),
                            new_track_score=max(0.6, min_score))
    object_detector = build_object_detector(detector, classes=classes, min_score=min(min_score, tracker.low_score),
                                            threads=detector_threads)
    if sink is None and gallery is not None:
        sink = EventSink(gallery.sessions)  # identifications are audited by the gallery itself
    snapshots = SnapshotWriter(snapshot_dir, blur_unknown_faces=blur_unknown_faces) if snapshot_dir else None
    recognizer = GalleryRecognizer(gallery) if gallery is not None and face_recognition else None
    settings = PipelineSettings(camera=camera, motion=motion, face_recognition=face_recognition,
                                identify_every_n_frames=identify_every_n_frames,
                                blur_unknown_faces=blur_unknown_faces, tracker=tracker, min_score=min_score,
                                video_start=video_start)
    stage = None
    if plates is not None and plates.enabled:
        # drivers are identified only where the camera recognises faces at all (faces are still found, to blur)
        driver_recognizer = GalleryRecognizer(gallery) if gallery is not None and face_recognition else None
        stage = build_vehicle_stage(camera, plates, gallery=gallery, face_engine=faces, recognizer=driver_recognizer,
                                    snapshots=snapshots, threads=detector_threads)
    return CameraPipeline(settings, object_detector=object_detector, face_engine=faces, recognizer=recognizer,
                          sink=sink, snapshots=snapshots, zones=zones, plates=stage)


def pipeline_from_config(name: str, camera: CameraConfig, *, gallery: VideoGallery | None = None,
                         snapshot_dir: str | Path | None = None, blur_unknown_faces: bool = True,
                         sink: EventSink | None = None, frame_size: tuple[int, int] | None = None,
                         video_start: datetime | None = None, detector_threads: int | None = None) -> CameraPipeline:
    """A pipeline for camera ``name`` of a validated YAML config (zones need the frame size; ``video_start``:
    event times follow the video's own timeline from that instant, as for a replayable file camera)."""
    zones = []
    if camera.zones and frame_size is not None:
        zones = [Zone.from_config(zone_name, zone, *frame_size) for zone_name, zone in camera.zones.items()]
    return build_pipeline(name, gallery=gallery, classes=camera.classes, min_score=camera.min_score,
                          motion=camera.to_motion_config(), face_recognition=camera.face_recognition.enabled,
                          identify_every_n_frames=camera.face_recognition.identify_every_n_frames,
                          blur_unknown_faces=blur_unknown_faces, snapshot_dir=snapshot_dir, zones=zones, sink=sink,
                          plates=camera.plates, video_start=video_start, detector_threads=detector_threads)


def run(pipeline: CameraPipeline, frames: Iterable[Frame],
        on_result: Callable[[FrameResult], None] | None = None) -> None:
    """Feed every frame to ``pipeline`` (calling ``on_result`` after each) and close its tracks at the end."""
    try:
        for frame in frames:
            result = pipeline.process(frame)
            if on_result is not None:
                on_result(result)
    finally:
        pipeline.finish()
