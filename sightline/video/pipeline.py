"""One camera's processing chain: motion gate -> objects -> tracks -> faces -> identities -> events.

The pipeline is synchronous and single-camera: feed it frames in order with
:meth:`CameraPipeline.process` and call :meth:`CameraPipeline.finish` at the
end of a file or stream. It never stores a face of someone who is not an
enrolled match: snapshots and annotated frames blur every other face.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np

from sightline.engine import FaceEngine
from sightline.events.models import Event, EventType, utcnow
from sightline.events.sink import EventSink
from sightline.events.snapshots import SnapshotWriter, box_iou
from sightline.events.zones import Zone, ZoneTracker
from sightline.video.annotate import draw_frame
from sightline.video.motion import MotionConfig, MotionGate
from sightline.video.plates_stage import VehicleStage
from sightline.video.recognition import FaceTrackRecognizer, FaceTrackState, Recognizer, assign_to_person
from sightline.video.scenecut import SceneCutDetector
from sightline.video.sources import Frame
from sightline.video.strip import TrackStrips, compose_strip
from sightline.video.tracker import ByteTracker, Track, TrackerConfig
from sightline.vision.faces.quality import assess_quality
from sightline.vision.faces.types import Face
from sightline.vision.objects.types import Detection, ObjectDetector

Box = tuple[float, float, float, float]
STAGES = ("decode", "motion", "detect", "track", "face", "identify", "events")


@dataclass
class PipelineSettings:
    """Per-camera behaviour (built from the YAML camera config or CLI flags)."""

    camera: str = "default"
    motion: MotionConfig | None = field(default_factory=MotionConfig)
    face_recognition: bool = True
    identify_every_n_frames: int = 3
    min_votes: int = 2
    blur_unknown_faces: bool = True
    person_label: str = "person"
    face_max_side: int = 640  # faces are searched on a copy this size; smaller ones are too small to recognise
    tracker: TrackerConfig = field(default_factory=lambda: TrackerConfig(min_hits=2, lost_buffer=15))
    # Detections below ``min_score`` still reach the tracker's low-score pass but are not reported
    # (None: report all). ``video_start``: event times are this instant plus the frame's position in
    # the video (files); None: the wall clock (live cameras).
    min_score: float | None = None
    video_start: datetime | None = None


@dataclass
class StageTimes:
    """Wall time spent per stage, for the stats line and the benchmark."""

    totals_ms: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0
    skipped: int = 0

    def add(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self.totals_ms[stage] += (now - started) * 1000.0
        return now

    def per_frame(self) -> dict[str, float]:
        """Mean milliseconds per processed frame for every stage."""
        count = max(self.frames, 1)
        return {stage: round(self.totals_ms.get(stage, 0.0) / count, 2) for stage in STAGES}


@dataclass
class FrameResult:
    """What one frame produced."""

    frame: Frame
    motion: bool
    detections: list[Detection]
    tracks: list[Track]
    faces: list[Face]
    face_names: dict[int, str]  # index into ``faces`` -> enrolled subject's name
    events: list[Event]

    def annotated(self, *, blur_unknown_faces: bool = True) -> np.ndarray:
        """The frame with boxes, track ids and names drawn; faces of people not enrolled blurred."""
        return draw_frame(self.frame.image_bgr, detections=self.detections, tracks=self.tracks, faces=self.faces,
                          face_names=self.face_names, blur_unknown_faces=blur_unknown_faces)


@dataclass
class _BestView:
    score: float
    image: np.ndarray
    box: Box
    face_boxes: list[Box]
    enrolled_boxes: list[Box]
    when: datetime


class CameraPipeline:
    """Processes one camera's frames into tracks and events."""

    def __init__(self, settings: PipelineSettings, *, object_detector: ObjectDetector,
                 face_engine: FaceEngine | None = None, recognizer: Recognizer | None = None,
                 sink: EventSink | None = None, snapshots: SnapshotWriter | None = None,
                 zones: list[Zone] | None = None, plates: VehicleStage | None = None) -> None:
        self.settings = settings
        self.plates = plates  # vehicle passages: plates voted per track, the driver's face
        self.detector = object_detector
        self.faces = face_engine
        self.sink = sink
        self.snapshots = snapshots
        self.gate = MotionGate(settings.motion) if settings.motion is not None else None
        self.tracker = ByteTracker(settings.tracker)
        self.scene_cuts = SceneCutDetector()
        self.zones = ZoneTracker(settings.camera, zones or [])
        use_recognizer = recognizer if settings.face_recognition else None
        self.face_tracks = FaceTrackRecognizer(use_recognizer, camera=settings.camera,
                                               identify_every_n_frames=settings.identify_every_n_frames,
                                               min_votes=settings.min_votes)
        self.times = StageTimes()
        self.events: list[Event] = []  # every event of this run (callers that run for weeks clear it)
        self.event_counts: Counter[str] = Counter()
        self._live: dict[int, tuple[str, datetime]] = {}
        self._best: dict[int, _BestView] = {}
        self.strips = TrackStrips()  # a few frames per track for review items (every face blurred)
        self._face_owner: dict[int, int | None] = {}
        self._last_time: datetime | None = None

    # -- public -----------------------------------------------------------------------------
    def process(self, frame: Frame) -> FrameResult:
        """Run every stage on one frame; returns what it found and the events it emitted."""
        image = frame.image_bgr
        started = time.perf_counter()
        now = self._clock(frame)
        self.times.frames += 1
        moving = True
        if self.gate is not None:
            result = self.gate(image)
            moving = result.has_motion or result.calibrating
            started = self.times.add("motion", started)
        if not moving:
            self.times.skipped += 1
            return FrameResult(frame, False, [], self.tracker.tracks, [], {}, [])

        cut_events = self._close_everything(now) if self.scene_cuts(image) else []
        found = self.detector.detect(image)  # includes the weak ones the tracker's second pass uses
        started = self.times.add("detect", started)
        boxes = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in found], dtype=np.float64)
        class_ids = np.array([d.class_id for d in found], dtype=np.int64)
        tracks = self.tracker.update(boxes, scores, class_ids)
        started = self.times.add("track", started)
        floor = self.settings.min_score
        detections = found if floor is None else [d for d in found if d.score >= floor]

        labels = {t.track_id: self._label(t, found) for t in tracks}
        people = [t for t in tracks if labels[t.track_id] == self.settings.person_label]
        faces: list[Face] = []
        face_names: dict[int, str] = {}
        events: list[Event] = cut_events
        if self.faces is not None and people:
            faces = self._detect_faces(image)
            started = self.times.add("face", started)
            update = self.face_tracks.update(image, faces, self._embed)
            started = self.times.add("identify", started)
            face_names = self._names_for(faces, update.tracks)
            for state in update.tracks:
                self._face_owner.setdefault(state.track_id, assign_to_person(state.box, people))
            events += [self._person_seen(s, image, faces, face_names, now) for s in update.newly_named]
            events += self._face_tracks_ended(update.ended, now)

        events += self._object_events(tracks, labels, image, faces, face_names, now)
        if self.plates is not None:
            events += self.plates.update(image, tracks, labels, {t.track_id for t in self.tracker.tracks}, now)
        for event in events:
            self._emit(event)
        self.times.add("events", started)
        return FrameResult(frame, True, detections, tracks, faces, face_names, events)

    def finish(self) -> list[Event]:
        """End every open track (end of file / stream stop) and emit the closing events."""
        events = self._close_everything(self._last_time)
        for event in events:
            self._emit(event)
        return events

    def stats(self) -> dict[str, object]:
        """Frames seen, frames the motion gate skipped, per-stage milliseconds, events by type."""
        return {"camera": self.settings.camera, "frames": self.times.frames, "skipped_by_motion": self.times.skipped,
                "skipped_fraction": round(self.times.skipped / max(self.times.frames, 1), 3),
                "stage_ms_per_frame": self.times.per_frame(), "events": dict(self.event_counts)}

    # -- stages -----------------------------------------------------------------------------
    def _clock(self, frame: Frame) -> datetime:
        """When ``frame`` happened: ``video_start`` + its position in the video, else the wall clock."""
        start = self.settings.video_start
        self._last_time = utcnow() if start is None else start + timedelta(seconds=max(frame.pts_seconds, 0.0))
        return self._last_time

    def _close_everything(self, now: datetime | None = None) -> list[Event]:
        """End all face and object tracks (scene cut or end of input); returns the closing events."""
        now = now or utcnow()
        events = self._face_tracks_ended(self.face_tracks.finish(), now)
        for track_id in list(self._live):
            events += self._end_track(track_id, now)
        if self.plates is not None:
            events += self.plates.finish(now)
        self.tracker.reset()
        return events

    def _detect_faces(self, image: np.ndarray) -> list[Face]:
        """Faces in full-frame coordinates, searched on a copy no larger than ``face_max_side``."""
        assert self.faces is not None
        height, width = image.shape[:2]
        scale = min(1.0, self.settings.face_max_side / max(height, width))
        if scale >= 1.0:
            return self.faces.detect_array(image)
        small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        faces = self.faces.detector.detect(small)
        for face in faces:
            face.box = tuple(float(v) / scale for v in face.box)
            face.landmarks = face.landmarks / scale
            face.quality = assess_quality(image, face)
        return faces

    def _embed(self, pairs: list[tuple[np.ndarray, Face]]) -> np.ndarray:
        assert self.faces is not None
        vectors = [self.faces.embedder.embed(image, [face])[0] for image, face in pairs]
        return np.stack(vectors) if vectors else np.zeros((0, self.faces.embedding_dim), np.float32)

    @staticmethod
    def _label(track: Track, detections: list[Detection]) -> str:
        if track.det_index is not None:
            return detections[track.det_index].label
        from sightline.vision.objects.labels import COCO_LABELS

        return COCO_LABELS[track.class_id]

    @staticmethod
    def _names_for(faces: list[Face], states: list[FaceTrackState]) -> dict[int, str]:
        names = {}
        for index, face in enumerate(faces):
            for state in states:
                if state.named is not None and box_iou(face.box, state.box) > 0.5:
                    names[index] = state.named.name
        return names

    def _object_events(self, tracks: list[Track], labels: dict[int, str], image: np.ndarray, faces: list[Face],
                       face_names: dict[int, str], now: datetime) -> list[Event]:
        events: list[Event] = []
        camera = self.settings.camera
        face_boxes = [f.box for f in faces]
        enrolled = [faces[i].box for i in face_names]
        searched = self.faces is not None and any(label == self.settings.person_label for label in labels.values())
        for track in tracks:
            label = labels[track.track_id]
            if track.track_id not in self._live:
                self._live[track.track_id] = (label, now)
                events.append(Event(EventType.TRACK_START, camera, label, start_time=now, track_id=track.track_id,
                                    score=track.score, data={"box": _rounded(track.box)}))
            if track.det_index is not None:
                view_score = track.score * (track.box[2] - track.box[0]) * (track.box[3] - track.box[1])
                best = self._best.get(track.track_id)
                if best is None or view_score > best.score:
                    self._best[track.track_id] = _BestView(view_score, image, track.box, face_boxes, enrolled, now)
                if self.snapshots is not None:
                    self.strips.offer(track.track_id, image, face_boxes if searched else None, now)
            events += self.zones.update(track.track_id, label, track.box, at=now, score=track.score)
        alive = {t.track_id for t in self.tracker.tracks}
        for track_id in [tid for tid in self._live if tid not in alive]:
            events += self._end_track(track_id, now)
        return events

    def _end_track(self, track_id: int, now: datetime) -> list[Event]:
        label, started = self._live.pop(track_id)
        events = self.zones.end(track_id, at=now)
        snapshot = self._write_snapshot(self._best.pop(track_id, None), f"track-{track_id}-{started:%H%M%S}")
        strip = self._write_strip(track_id, f"strip-{track_id}-{started:%H%M%S}", now)
        events.append(Event(EventType.TRACK_END, self.settings.camera, label, start_time=started, end_time=now,
                            track_id=track_id, snapshot=snapshot, data={"strip": strip} if strip else {}))
        return events

    def _person_seen(self, state: FaceTrackState, image: np.ndarray, faces: list[Face],
                     face_names: dict[int, str], now: datetime) -> Event:
        assert state.named is not None
        state.announced = True
        view = _BestView(0.0, image, state.box, [f.box for f in faces], [faces[i].box for i in face_names], now)
        snapshot = self._write_snapshot(view, f"seen-{state.named.subject_id[:8]}-{state.track_id}")
        return Event(EventType.PERSON_SEEN, self.settings.camera, self.settings.person_label, start_time=now,
                     track_id=self._face_owner.get(state.track_id), score=round(state.named.score, 4),
                     subject_id=state.named.subject_id, subject_name=state.named.name, snapshot=snapshot,
                     data={"face_track": state.track_id, "votes": int(state.votes[state.named.subject_id]),
                           "attempts": state.attempts})

    def _face_tracks_ended(self, ended: list[FaceTrackState], now: datetime) -> list[Event]:
        events = []
        for state in ended:
            owner = self._face_owner.pop(state.track_id, None)
            if state.named is not None and not state.announced:
                state.announced = True
                events.append(Event(EventType.PERSON_SEEN, self.settings.camera, self.settings.person_label,
                                    start_time=now, track_id=owner, score=round(state.named.score, 4),
                                    subject_id=state.named.subject_id, subject_name=state.named.name,
                                    data={"face_track": state.track_id, "attempts": state.attempts}))
            elif state.named is None and state.attempts > 0:
                events.append(Event(EventType.UNKNOWN_PERSON, self.settings.camera, self.settings.person_label,
                                    start_time=now, track_id=owner, data={"attempts": state.attempts}))
        return events

    def _write_snapshot(self, view: _BestView | None, name: str) -> str | None:
        if view is None or self.snapshots is None:
            return None
        path = self.snapshots.write(view.image, camera=self.settings.camera, name=name, when=view.when,
                                    faces=view.face_boxes, enrolled_boxes=view.enrolled_boxes)
        return str(path)

    def _write_strip(self, track_id: int, name: str, now: datetime) -> str | None:
        """The track's frame strip (every face blurred) next to its snapshot; None without snapshots."""
        samples = self.strips.pop(track_id)
        if self.snapshots is None or len(samples) < 2:
            return None
        faces = self.faces
        strip = compose_strip(samples, lambda image: [] if faces is None else
                              [f.box for f in faces.detect_array(image, embed=False)])
        if strip is None:
            return None
        return str(self.snapshots.write(strip, camera=self.settings.camera, name=name, when=now, faces=[]))

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        self.event_counts[event.type.value] += 1
        if self.sink is not None:
            self.sink.emit(event)


def _rounded(box: Box) -> list[float]:
    return [round(float(v), 1) for v in box]
