"""Find and read licence plates in one image: vehicles -> plate boxes -> crops -> OCR -> format rules.

LPD-YuNet sees the image at 320x240, so on a 1080p frame a plate is a few
pixels tall and often missed. It is therefore also run on each vehicle box
from the object detector (car, bus, truck, motorcycle), where a plate is large
enough; both sets of boxes are fused by NMS. Crops are always cut from the
full-resolution image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sightline.vision.plates.crops import TRIMS_Y, plate_crop
from sightline.vision.plates.formats import REGIONS, FormattedRead, apply_format, normalise
from sightline.vision.plates.lpd_yunet import LpdYunet, PlateCandidate
from sightline.vision.plates.ocr import PlateRecognizer

VEHICLE_CLASSES = ("car", "bus", "truck", "motorcycle")
MIN_CHARS = 4
MIN_READ_CONFIDENCE = 0.2
CONFIDENT = 0.6  # a well-formed read at least this sure makes the vehicle pass unnecessary
SECOND_LOOK = 0.7  # reads less sure than this (or fitting no format) are re-read on another crop


@dataclass(frozen=True)
class PlateRead:
    """One plate: where it is, what it says (or why not), and how sure the reader is."""

    box: tuple[float, float, float, float]
    detection_score: float
    text: str | None  # normalised, after the region's format rules; None when unreadable
    raw_text: str  # what the recogniser read, normalised, before the format rules
    confidence: float  # 0-1: the weakest character's probability after format edits
    region: str
    format: str | None  # the matched format (L = letter, D = digit) or None
    edits: int  # characters changed or dropped by the format rules
    vehicle: tuple[float, float, float, float] | None = None

    @property
    def readable(self) -> bool:
        return self.text is not None

    def to_dict(self) -> dict[str, object]:
        """Stable JSON shape (CLI ``--json`` and the API)."""
        return {"text": self.text, "confidence": round(self.confidence, 4), "raw_text": self.raw_text,
                "region": self.region, "format": self.format, "edits": self.edits,
                "box": [round(v, 1) for v in self.box], "detection_score": round(self.detection_score, 4),
                "vehicle_box": [round(v, 1) for v in self.vehicle] if self.vehicle else None}


class PlateReader:
    """Reads plates with a plate detector, a recogniser and (optionally) a vehicle detector.

    ``vehicle_detector`` is any object detector returning boxes with ``label`` and ``box`` (built with
    ``classes=VEHICLE_CLASSES``); without one, only the whole-image plate pass runs.
    """

    def __init__(self, detector: LpdYunet, recognizer: PlateRecognizer, vehicle_detector=None, *,
                 region: str = "eu", max_vehicles: int = 2, max_plates: int = 4, nms_threshold: float = 0.3,
                 exhaustive: bool = False) -> None:
        if region not in REGIONS:
            raise ValueError(f"unknown plate region {region!r}; choose one of {', '.join(REGIONS)}")
        self.detector = detector
        self.recognizer = recognizer
        self.vehicle_detector = vehicle_detector
        self.region = region
        self.max_vehicles = int(max_vehicles)
        self.max_plates = int(max_plates)
        self.nms_threshold = float(nms_threshold)
        self.exhaustive = bool(exhaustive)

    def vehicles(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """The largest vehicle boxes (at most ``max_vehicles``), or [] without a vehicle detector."""
        if self.vehicle_detector is None:
            return []
        found = [d for d in self.vehicle_detector.detect(image) if d.label in VEHICLE_CLASSES]
        found.sort(key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        return [tuple(float(v) for v in d.box) for d in found[: self.max_vehicles]]

    def vehicle_candidates(self, image: np.ndarray) -> list[tuple[PlateCandidate, tuple[float, float, float, float]]]:
        """Plate boxes found by LPD-YuNet inside each vehicle box, in full-image pixels."""
        height, width = image.shape[:2]
        found = []
        for vehicle in self.vehicles(image):
            x1, y1 = max(0, int(vehicle[0])), max(0, int(vehicle[1]))
            x2, y2 = min(width, int(np.ceil(vehicle[2]))), min(height, int(np.ceil(vehicle[3])))
            if x2 - x1 < 16 or y2 - y1 < 16:
                continue
            found += [(_shift(c, x1, y1), vehicle) for c in self.detector.detect(image[y1:y2, x1:x2])]
        return found

    def read(self, image: np.ndarray, *, exhaustive: bool | None = None) -> list[PlateRead]:
        """Every plate found in ``image`` (uint8 BGR, full resolution), best detection first.

        LPD-YuNet runs on the whole image first. The vehicle pass (object detector, then LPD-YuNet in the
        largest vehicle boxes) runs when that found no confident, well-formed read, or always with
        ``exhaustive`` (several vehicles in view). Both passes' boxes are fused by NMS.
        """
        exhaustive = self.exhaustive if exhaustive is None else exhaustive
        whole = [(c, None) for c in self.detector.detect(image)]
        kept = _suppress(whole, self.nms_threshold)[: self.max_plates]
        reads = dict(zip((id(c) for c, _ in kept), self._read_all(image, kept), strict=True))
        if self.vehicle_detector is None or (not exhaustive and any(_confident(r) for r in reads.values())):
            return list(reads.values())
        fused = _suppress(whole + self.vehicle_candidates(image), self.nms_threshold)[: self.max_plates]
        todo = [(c, v) for c, v in fused if id(c) not in reads]
        reads.update(zip((id(c) for c, _ in todo), self._read_all(image, todo), strict=True))
        return [reads[id(c)] for c, _ in fused]

    def _read_all(self, image: np.ndarray, candidates) -> list[PlateRead]:
        """Read each candidate on its primary crop; re-read the doubtful ones on the untrimmed crop."""
        best: dict[int, tuple[FormattedRead, str]] = {}
        pending = list(range(len(candidates)))
        for trim in TRIMS_Y:
            crops, owners = [], []
            for index in pending:
                crop = plate_crop(image, candidates[index][0].box, trim_y=trim)
                if crop is not None:
                    crops.append(crop)
                    owners.append(index)
            for index, raw in zip(owners, self.recognizer.read_batch(crops), strict=True):
                option = apply_format(raw, self.region)
                if index not in best or option.confidence > best[index][0].confidence:
                    best[index] = (option, normalise(raw.text))
            pending = [i for i in pending if i not in best or best[i][0].format is None
                       or best[i][0].confidence < SECOND_LOOK]
            if not pending:
                break
        return [self._finish(candidate, vehicle, best.get(index))
                for index, (candidate, vehicle) in enumerate(candidates)]

    def _finish(self, candidate: PlateCandidate, vehicle, result: tuple[FormattedRead, str] | None) -> PlateRead:
        if result is None:
            return PlateRead(candidate.box, candidate.score, None, "", 0.0, self.region, None, 0, vehicle)
        option, raw_text = result
        text = normalise(option.text)
        readable = len(text) >= MIN_CHARS and option.confidence >= MIN_READ_CONFIDENCE
        return PlateRead(candidate.box, candidate.score, text if readable else None, raw_text,
                         float(option.confidence), self.region, option.format, option.edits, vehicle)


def _confident(read: PlateRead) -> bool:
    return read.text is not None and read.format is not None and read.confidence >= CONFIDENT


def _shift(candidate: PlateCandidate, dx: int, dy: int) -> PlateCandidate:
    x1, y1, x2, y2 = candidate.box
    return PlateCandidate(box=(x1 + dx, y1 + dy, x2 + dx, y2 + dy), score=candidate.score,
                          corners=tuple((x + dx, y + dy) for x, y in candidate.corners), source=candidate.source)


def _suppress(found, threshold: float):
    if not found:
        return []
    boxes = [[c.box[0], c.box[1], c.box[2] - c.box[0], c.box[3] - c.box[1]] for c, _ in found]
    scores = [c.score for c, _ in found]
    picked = cv2.dnn.NMSBoxes(boxes, scores, 0.0, threshold)
    order = sorted(np.asarray(picked, dtype=int).ravel().tolist(), key=lambda i: -scores[i])
    return [found[i] for i in order]
