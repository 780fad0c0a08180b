"""Reading plates with list checks: what the CLI and the API call.

A read that matches a list entry (exactly or fuzzily) is audited; a plate on no list is stored only as a
keyed hash sighting (for counting within the retention window), never as text. Plain-text storage of
unlisted plates does not exist in this module.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sightline.models.onnx import create_session
from sightline.models.store import ModelStore
from sightline.plates.hashing import PlateHasher
from sightline.plates.lists import PlateLists, purge_expired_entries
from sightline.plates.models import plate_model_paths
from sightline.privacy.retention import register_purge
from sightline.store import plates_repo as repo
from sightline.vision.image_io import ImageInput, load_image
from sightline.vision.plates import LpdYunet, PlateRead, PlateReader, PlateRecognizer
from sightline.vision.plates.reader import VEHICLE_CLASSES
from sightline.vision.plates.textdet import TextDetector

SIGHTING_DAYS = 7  # keyed-hash sightings of unlisted plates are kept this long


def build_plate_reader(region: str = "eu", *, store: ModelStore | None = None, vehicles: bool = True,
                       vehicle_backend: str = "auto", threads: int | None = None,
                       min_score: float = 0.3, exhaustive: bool = False, text_fallback: bool = True) -> PlateReader:
    """A :class:`PlateReader` with verified model files (vehicle detector optional).

    ``exhaustive`` runs the vehicle pass on every image (several vehicles in view), not only when the
    whole-image pass found no confident read. ``text_fallback`` adds PP-OCR's text detector as the last pass.
    """
    store = store or ModelStore()
    paths = plate_model_paths(store)
    detector = LpdYunet(create_session(paths["detector"], threads=threads), min_score=min_score)
    recognizer = PlateRecognizer(create_session(paths["recogniser"], threads=threads))
    vehicle_detector = None
    if vehicles:
        from sightline.models import build_object_detector

        vehicle_detector = build_object_detector(vehicle_backend, store=store, classes=",".join(VEHICLE_CLASSES),
                                                 threads=threads, min_score=0.25, class_agnostic=True)
    text_detector = TextDetector(create_session(paths["text"], threads=threads)) if text_fallback else None
    return PlateReader(detector, recognizer, vehicle_detector, text_detector=text_detector, region=region,
                       exhaustive=exhaustive)


def purge_plates(session: Session, now: datetime, sighting_days: int = SIGHTING_DAYS) -> int:
    """Retention: list entries past their date (with their sightings) and sightings older than the window."""
    entries = purge_expired_entries(session, now)
    sightings = repo.purge_sightings(session, now - timedelta(days=sighting_days))
    return entries + sightings


def install_plate_retention() -> None:
    """Make every retention sweep cover the plate lists and sightings (idempotent)."""
    register_purge("plates", purge_plates)


class PlateService:
    """Plate reads checked against the lists, with audit and keyed-hash sightings."""

    def __init__(self, lists: PlateLists, reader: PlateReader | None = None, *,
                 store_sightings: bool = True) -> None:
        self.lists = lists
        self.reader = reader
        self.store_sightings = store_sightings

    @classmethod
    def from_gallery(cls, gallery: Any, reader: PlateReader | None = None, **kwargs: Any) -> PlateService:
        """A service on the gallery's database, audit log and data folder (plate key under ``home/keys``)."""
        lists = PlateLists(gallery.sessions, gallery.audit, PlateHasher.load(gallery.home))
        return cls(lists, reader, **kwargs)

    def read(self, image: ImageInput, *, actor: str, source: str = "image") -> dict[str, Any]:
        """Read every plate in ``image`` and check it against the lists; see the module docstring."""
        if self.reader is None:
            raise RuntimeError("this PlateService was made without a reader")
        bgr = load_image(image)
        reads = self.reader.read(bgr)
        plates = []
        with self.lists.sessions.begin() as session:
            for read in reads:
                plates.append(self._check(session, read, actor=actor, source=source))
        return {"width": int(bgr.shape[1]), "height": int(bgr.shape[0]), "region": self.reader.region,
                "plates": plates}

    def _check(self, session: Session, read: PlateRead, *, actor: str, source: str) -> dict[str, Any]:
        out = read.to_dict()
        out["list_hits"] = []
        if read.text is None:
            return out
        hits = self.lists.match(read.text)
        if hits:
            self.lists.audit_hits(session, hits, actor=actor, source=source, confidence=read.confidence)
            out["list_hits"] = [hit.to_dict() for hit in hits]
        elif self.store_sightings:
            hasher = self.lists.hasher
            repo.add_sighting(session, repo.PlateSightingRow(plate_hash=hasher.hash(read.text), key_id=hasher.key_id,
                                                             source=source[:100], confidence=float(read.confidence),
                                                             seen_at=datetime.now(UTC)))
        return out
