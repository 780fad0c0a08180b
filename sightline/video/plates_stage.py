"""The vehicle stage of a camera pipeline: plates voted per vehicle track, the driver's face, one passage each.

For every vehicle track (car, bus, truck, motorcycle) the stage cuts the vehicle box from the *full-resolution*
frame, reads its plate (every ``read_every_n_frames`` frames) and keeps the ``best_n`` surest reads; faces
found in the vehicle box (on the configured driver side) compete on quality. When the track ends, the reads
are voted character by character (:mod:`sightline.plates.vote`), the plate is checked against the lists,
the best driver face is identified against the gallery (enrolled people only; the gallery audits it), and
one ``vehicle_passage`` event is made (:mod:`sightline.plates.passages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from sightline.events.models import Event
from sightline.events.snapshots import SnapshotWriter, box_iou
from sightline.plates.config import PlatesConfig
from sightline.plates.crossing import crossing
from sightline.plates.passages import CROP_MARGIN, DriverResult, PassageRecorder
from sightline.plates.vote import PlateVoter, TrackRead
from sightline.video.recognition import Recognizer
from sightline.video.tracker import Track
from sightline.vision.faces.quality import assess_quality
from sightline.vision.faces.types import Face
from sightline.vision.plates.reader import VEHICLE_CLASSES, PlateReader

Box = tuple[float, float, float, float]
MARGIN = CROP_MARGIN  # the vehicle crop is grown by this fraction so a plate at the box's edge is not cut
MIN_DRIVER_QUALITY = 0.05
DUPLICATE_IOU = 0.6
SETTLED = 0.9  # reads at least this sure, best_n of them agreeing: the plate is settled, stop reading it


@dataclass
class _View:
    """A frame kept for the passage's snapshot (a copy: the caller reuses its buffers)."""

    image: np.ndarray
    vehicle: Box
    plate: Box | None
    faces: list[Box]
    index: int
    when: datetime


@dataclass
class _Vehicle:
    label: str
    started: datetime
    voter: PlateVoter
    path: list[tuple[float, float]] = field(default_factory=list)
    seen: int = 0
    views: dict[int, _View] = field(default_factory=dict)  # frame index -> view, for the kept reads only
    largest: tuple[float, _View] | None = None  # fallback snapshot when no plate was read
    driver: tuple[float, np.ndarray, Face, int] | None = None  # quality, frame, face, frame index
    driver_seen: bool = False


class VehicleStage:
    """Per-camera state of the vehicle tracks; see the module docstring."""

    def __init__(self, settings: PlatesConfig, camera: str, *, reader: PlateReader, recorder: PassageRecorder,
                 face_engine: Any = None, recognizer: Recognizer | None = None,
                 snapshots: SnapshotWriter | None = None) -> None:
        self.settings = settings
        self.camera = camera
        self.reader = reader
        self.recorder = recorder
        self.faces = face_engine
        self.recognizer = recognizer
        self.snapshots = snapshots
        self._vehicles: dict[int, _Vehicle] = {}
        self._alias: dict[int, int] = {}  # duplicate track (same vehicle, another class) -> the vehicle's track
        self._frame = 0

    def update(self, image: np.ndarray, tracks: list[Track], labels: dict[int, str], alive: set[int],
               now: datetime) -> list[Event]:
        """Feed one frame (full resolution) with the tracker's output; returns passages of ended vehicles."""
        self._frame += 1
        height, width = image.shape[:2]
        claimed: list[tuple[int, Box]] = []
        for track in self._vehicle_tracks(tracks, labels):
            owner = self._owner(track, claimed)
            if owner is None:
                continue
            claimed.append((owner, track.box))
            state = self._vehicles.setdefault(owner, _Vehicle(labels[owner] if owner in labels else
                                                              labels[track.track_id], now,
                                                              PlateVoter(self.settings.best_n)))
            x1, y1, x2, y2 = track.box
            state.path.append(((x1 + x2) / 2, y2))
            if track.det_index is None:
                continue
            state.seen += 1
            if (state.seen - 1) % self.settings.read_every_n_frames == 0:
                self._look(state, image, _clip(track.box, width, height), now)
        events = []
        alive_owners = {self._alias.get(tid, tid) for tid in alive}
        self._alias = {dup: owner for dup, owner in self._alias.items() if dup in alive}
        for track_id in [tid for tid in self._vehicles if tid not in alive_owners]:
            events.append(self._end(track_id, self._vehicles.pop(track_id), now, (width, height)))
        return [e for e in events if e is not None]

    def _vehicle_tracks(self, tracks: list[Track], labels: dict[int, str]) -> list[Track]:
        """Vehicle tracks, known vehicles first, then by score (the order duplicates are merged in)."""
        vehicles = [t for t in tracks if labels.get(t.track_id) in VEHICLE_CLASSES]
        return sorted(vehicles, key=lambda t: (t.track_id not in self._vehicles, -t.score))

    def _owner(self, track: Track, claimed: list[tuple[int, Box]]) -> int | None:
        """The vehicle ``track`` belongs to: itself, or (a detector often calls one vehicle both car and truck)
        the vehicle whose box it duplicates; None when that vehicle was already handled this frame."""
        if track.track_id in self._alias:
            owner = self._alias[track.track_id]
            return None if any(o == owner for o, _ in claimed) else owner
        if track.track_id not in self._vehicles:
            for owner, box in claimed:
                if box_iou(box, track.box) >= DUPLICATE_IOU:
                    self._alias[track.track_id] = owner
                    return None
        return track.track_id

    def finish(self, now: datetime | None) -> list[Event]:
        """End every vehicle track (end of input, scene cut)."""
        events = []
        for track_id, state in list(self._vehicles.items()):
            size = None if state.largest is None else state.largest[1].image.shape[1::-1]
            events.append(self._end(track_id, state, now or state.started, size))
        self._vehicles.clear()
        return [e for e in events if e is not None]

    # -- per frame ------------------------------------------------------------------------------
    def _look(self, state: _Vehicle, image: np.ndarray, vehicle: Box, now: datetime) -> None:
        left, top, right, bottom = _grow(vehicle, MARGIN, image.shape[1], image.shape[0])
        crop = image[top:bottom, left:right]
        reads = [] if _settled(state.voter) else [r for r in self.reader.read(crop) if r.text is not None]
        everyone, faces = self._faces(image, crop, vehicle, (left, top))
        view: _View | None = None
        area = (vehicle[2] - vehicle[0]) * (vehicle[3] - vehicle[1])
        if state.largest is None or area > state.largest[0]:
            view = _View(image.copy(), vehicle, None, everyone, self._frame, now)
            state.largest = (area, view)
        if reads:
            best = max(reads, key=lambda r: r.confidence)
            box = (best.box[0] + left, best.box[1] + top, best.box[2] + left, best.box[3] + top)
            state.voter.add(TrackRead(best.text or "", float(best.confidence), box, self._frame))
            if any(r.frame_index == self._frame for r in state.voter.reads):
                shared = view.image if view is not None else image.copy()
                state.views[self._frame] = _View(shared, vehicle, box, everyone, self._frame, now)
            kept = {r.frame_index for r in state.voter.reads}
            state.views = {i: v for i, v in state.views.items() if i in kept}
        for face in faces:
            state.driver_seen = True
            quality = face.quality.score if face.quality else 0.0
            if quality >= MIN_DRIVER_QUALITY and (state.driver is None or quality > state.driver[0]):
                state.driver = (quality, image.copy(), face, self._frame)

    def _faces(self, image: np.ndarray, crop: np.ndarray, vehicle: Box,
               offset: tuple[int, int]) -> tuple[list[Box], list[Face]]:
        """Every face box in the vehicle crop (to blur) and those on the driver side (with quality), in
        full-frame pixels."""
        if self.faces is None:
            return [], []
        everyone: list[Box] = []
        found = []
        middle = (vehicle[0] + vehicle[2]) / 2
        for face in self.faces.detector.detect(crop):
            x1, y1, x2, y2 = face.box
            face.box = (x1 + offset[0], y1 + offset[1], x2 + offset[0], y2 + offset[1])
            face.landmarks = face.landmarks + np.array(offset, dtype=face.landmarks.dtype)
            everyone.append(face.box)
            centre = (face.box[0] + face.box[2]) / 2
            side = self.settings.driver_side
            if side == "left" and centre > middle or side == "right" and centre < middle:
                continue
            face.quality = assess_quality(image, face)
            found.append(face)
        return everyone, found

    # -- at the end -----------------------------------------------------------------------------
    def _end(self, track_id: int, state: _Vehicle, now: datetime, size) -> Event | None:
        voted = state.voter.vote()
        if voted is None and not state.driver_seen:
            return None  # a vehicle with neither plate nor driver (parked far away, passing traffic)
        direction = None
        line = self.settings.pixel_line(*size) if size is not None else None
        if line is not None:
            direction = crossing(line[0], line[1], state.path)
        driver = self._identify(state)
        view = state.views.get(voted.best.frame_index) if voted is not None else None
        if view is None and state.largest is not None:
            view = state.largest[1]
        return self.recorder.record(camera=self.camera, label=state.label, track_id=track_id, started=state.started,
                                    ended=now, voted=voted, driver=driver, direction=direction,
                                    snapshot=None if view is None else _snapshot_parts(view, driver))

    def _identify(self, state: _Vehicle) -> DriverResult:
        if state.driver is None or self.recognizer is None or self.faces is None:
            return DriverResult(seen=state.driver_seen)
        _, image, face, index = state.driver
        vector = self.faces.embedder.embed(image, [face])[0]
        match = self.recognizer.match(vector, camera=self.camera)  # the gallery audits the identification
        if match is None:
            return DriverResult(seen=True)
        return DriverResult(seen=True, subject_id=match.subject_id, name=match.name, score=match.score,
                            box=face.box, frame_index=index)


def _settled(voter: PlateVoter) -> bool:
    """True once the ``best_n`` kept reads all agree with confidence: reading more frames cannot change the vote."""
    reads = voter.reads
    return (len(reads) >= voter.best_n and len({r.text for r in reads}) == 1
            and min(r.confidence for r in reads) >= SETTLED)


def _snapshot_parts(view: _View, driver: DriverResult) -> dict[str, Any]:
    enrolled = [driver.box] if driver.box is not None and driver.frame_index == view.index else []
    return {"image": view.image, "vehicle": view.vehicle, "plate": view.plate, "faces": view.faces,
            "enrolled": enrolled, "when": view.when}


def _clip(box: Box, width: int, height: int) -> Box:
    return (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))


def _grow(box: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    dx, dy = (box[2] - box[0]) * margin, (box[3] - box[1]) * margin
    return (max(0, int(box[0] - dx)), max(0, int(box[1] - dy)),
            min(width, int(np.ceil(box[2] + dx))), min(height, int(np.ceil(box[3] + dy))))


def build_vehicle_stage(camera: str, settings: PlatesConfig, *, gallery: Any = None, face_engine: Any = None,
                        recognizer: Recognizer | None = None, snapshots: SnapshotWriter | None = None,
                        threads: int | None = None, reader: PlateReader | None = None,
                        actor: str = "pipeline") -> VehicleStage:
    """A stage with the plate models and, with a ``gallery``, its plate lists, plate key and audit log."""
    from sightline.config import default_data_dir
    from sightline.plates.hashing import PlateHasher
    from sightline.plates.lists import PlateLists
    from sightline.plates.service import build_plate_reader

    reader = reader or build_plate_reader(settings.region, vehicles=False, threads=threads)
    lists = None
    if gallery is not None:
        hasher = PlateHasher.load(gallery.home)
        lists = PlateLists(gallery.sessions, gallery.audit, hasher)
    else:
        hasher = PlateHasher.load(default_data_dir())
    recorder = PassageRecorder(hasher=hasher, lists=lists, store_plain_text=settings.store_plain_text,
                               snapshots=snapshots, actor=actor)
    return VehicleStage(settings, camera, reader=reader, recorder=recorder, face_engine=face_engine,
                        recognizer=recognizer, snapshots=snapshots)
