"""``vehicle_passage`` events: the voted plate checked against the lists, the driver, the snapshot; and their
erasure when a plate-list entry goes.

Data of a passage (``Event.data``): ``plate`` (text when the plate is on a list or the camera stores plain
text, else None), ``plate_hash`` (keyed hash, always; see :mod:`sightline.plates.hashing`),
``plate_confidence``, ``list_hit`` (``{"match": exact|fuzzy|none, "list", "entry_id", "reason"}``),
``driver_face`` (a face was seen on the driver side), ``direction`` (``in``/``out``/None), ``reads`` and
``agreeing``. An enrolled driver is named by the event's ``subject_id``/``subject_name`` -- so a subject's
erasure (:func:`sightline.events.store.unlink_subject`) clears the name and deletes the snapshot that shows
the face, and the passage then reads as an unknown driver. Plates on no list and unknown faces are blurred
in the snapshot (plates stay readable only when listed or with ``store_plain_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sightline.events.models import Event, EventType
from sightline.events.snapshots import SnapshotWriter
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import ListHit, PlateLists
from sightline.plates.vote import VotedPlate
from sightline.privacy.redact import blur_regions
from sightline.store import plates_repo as repo

# The snapshot is the vehicle box grown by this fraction: exactly the region faces were searched in (so every
# face in the stored crop was seen, and blurred unless it is the enrolled driver).
CROP_MARGIN = 0.05


@dataclass(frozen=True)
class DriverResult:
    """The driver of one vehicle track: seen or not, and the enrolled subject when identified."""

    seen: bool
    subject_id: str | None = None
    name: str | None = None
    score: float | None = None
    box: tuple[float, float, float, float] | None = None
    frame_index: int | None = None


class PassageRecorder:
    """Turns a finished vehicle track into its ``vehicle_passage`` event (list check audited)."""

    def __init__(self, *, hasher: PlateHasher, lists: PlateLists | None = None, store_plain_text: bool = False,
                 snapshots: SnapshotWriter | None = None, sessions: sessionmaker[Session] | None = None,
                 actor: str = "pipeline") -> None:
        self.hasher, self.lists, self.store_plain_text = hasher, lists, store_plain_text
        self.snapshots, self.sessions, self.actor = snapshots, sessions, actor

    def record(self, *, camera: str, label: str, track_id: int, started: datetime, ended: datetime,
               voted: VotedPlate | None, driver: DriverResult, direction: str | None,
               snapshot: dict[str, Any] | None) -> Event:
        """The passage event (not emitted: the pipeline emits it)."""
        hits = self._check(voted, camera) if voted is not None else []
        listed = bool(hits)
        data: dict[str, Any] = {
            "plate": voted.text if voted is not None and (listed or self.store_plain_text) else None,
            "plate_hash": self.hasher.hash(voted.text) if voted is not None else None,
            "plate_confidence": voted.confidence if voted is not None else None,
            "list_hit": _hit_dict(hits[0]) if hits else {"match": "none", "list": None, "entry_id": None},
            "driver_face": driver.seen, "direction": direction,
            "reads": voted.reads if voted is not None else 0, "agreeing": voted.agreeing if voted is not None else 0,
        }
        path = self._snapshot(snapshot, camera, track_id, started, keep_plate=listed or self.store_plain_text)
        return Event(EventType.VEHICLE_PASSAGE, camera, label, start_time=started, end_time=max(ended, started),
                     track_id=track_id, score=data["plate_confidence"], subject_id=driver.subject_id,
                     subject_name=driver.name, snapshot=path, data=data)

    def _check(self, voted: VotedPlate, camera: str) -> list[ListHit]:
        """List hits of the voted plate (audited), or a keyed-hash sighting when on no list."""
        hits = self.lists.match(voted.text) if self.lists is not None else []
        sessions = self.sessions or (self.lists.sessions if self.lists is not None else None)
        if sessions is None:
            return hits
        with sessions.begin() as session:
            if hits and self.lists is not None:
                self.lists.audit_hits(session, hits, actor=self.actor, source=f"camera:{camera}"[:100],
                                      confidence=voted.confidence)
            elif not hits:
                repo.add_sighting(session, repo.PlateSightingRow(
                    plate_hash=self.hasher.hash(voted.text), key_id=self.hasher.key_id, source=f"camera:{camera}"[:100],
                    confidence=float(voted.confidence), seen_at=datetime.now(UTC)))
        return hits

    def _snapshot(self, parts: dict[str, Any] | None, camera: str, track_id: int, started: datetime, *,
                  keep_plate: bool) -> str | None:
        if parts is None or self.snapshots is None:
            return None
        image = parts["image"]
        if parts["plate"] is not None and not keep_plate:
            image = blur_regions(image, [parts["plate"]], method="gaussian")
        path = self.snapshots.write(image, camera=camera, name=f"vehicle-{track_id}-{started:%H%M%S}",
                                    when=parts["when"], faces=parts["faces"], enrolled_boxes=parts["enrolled"],
                                    crop=parts["vehicle"], crop_margin=CROP_MARGIN)
        return str(path)


def _hit_dict(hit: ListHit) -> dict[str, Any]:
    return {"match": hit.match.kind, "list": hit.list_kind, "entry_id": hit.entry_id, "reason": hit.match.reason}
