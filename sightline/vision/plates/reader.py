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
from sightline.vision.plates.textdet import TextDetector

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
                 text_detector: TextDetector | None = None, region: str = "eu", max_vehicles: int = 2,
                 max_plates: int = 4, nms_threshold: float = 0.3, exhaustive: bool = False) -> None:
        if region not in REGIONS:
            raise ValueError(f"unknown plate region {region!r}; choose one of {', '.join(REGIONS)}")
        self.detector = detector
        self.recognizer = recognizer
        self.vehicle_detector = vehicle_detector
        self.text_detector = text_detector
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

    def vehicle_candidates(self, image: np.ndarray, vehicles) -> list[tuple[PlateCandidate, tuple | None]]:
        """Plate boxes found by LPD-YuNet inside each vehicle box, in full-image pixels."""
        found = []
        for vehicle, (x1, y1, x2, y2) in _regions(image, vehicles):
            found += [(_shift(c, x1, y1), vehicle) for c in self.detector.detect(image[y1:y2, x1:x2])]
        return found

    def text_candidates(self, image: np.ndarray, vehicles) -> list[tuple[PlateCandidate, tuple | None]]:
        """Text lines shaped like plates inside each vehicle box (the whole image when there is none)."""
        if self.text_detector is None:
            return []
        regions = _regions(image, vehicles) or [(None, (0, 0, image.shape[1], image.shape[0]))]
        found = []
        for vehicle, (x1, y1, x2, y2) in regions:
            found += [(_shift(c, x1, y1), vehicle) for c in self.text_detector.detect(image[y1:y2, x1:x2])]
        return found

    def read(self, image: np.ndarray, *, exhaustive: bool | None = None) -> list[PlateRead]:
        """Every plate found in ``image`` (uint8 BGR, full resolution), best detection first.

        Passes, each run only while no confident, well-formed read exists (or always with ``exhaustive``,
        for several vehicles in view): LPD-YuNet on the whole image; LPD-YuNet in the largest vehicle
        boxes of the object detector; PP-OCR's text detector in those boxes, keeping only reads that fit
        a plate format. Boxes of the first two passes are fused by NMS.
        """
        exhaustive = self.exhaustive if exhaustive is None else exhaustive
        whole = [(c, None) for c in self.detector.detect(image)]
        fused = _suppress(whole, self.nms_threshold)[: self.max_plates]
        reads = self._read_new(image, fused, {})
        if self.vehicle_detector is None and self.text_detector is None or self._done(reads, exhaustive):
            return [reads[id(c)] for c, _ in fused]
        vehicles = self.vehicles(image)
        if vehicles:
            fused = _suppress(whole + self.vehicle_candidates(image, vehicles), self.nms_threshold)[: self.max_plates]
            reads = self._read_new(image, fused, reads)
        result = [reads[id(c)] for c, _ in fused]
        if self._done(reads, exhaustive):
            return result
        taken = [r.box for r in result if r.readable]
        texts = [(c, v) for c, v in self.text_candidates(image, vehicles)
                 if all(_overlap(c.box, box) < self.nms_threshold for box in taken)]
        texts = _suppress(texts, self.nms_threshold)[: self.max_plates]
        extra = self._read_new(image, texts, {})
        return result + [extra[id(c)] for c, _ in texts if extra[id(c)].format is not None and extra[id(c)].readable]

    def _done(self, reads: dict[int, PlateRead], exhaustive: bool) -> bool:
        return not exhaustive and any(_confident(r) for r in reads.values())

    def _read_new(self, image: np.ndarray, candidates, reads: dict[int, PlateRead]) -> dict[int, PlateRead]:
        """``reads`` plus reads of the candidates not read yet (keyed by candidate identity)."""
        todo = [(c, v) for c, v in candidates if id(c) not in reads]
        return {**reads, **dict(zip((id(c) for c, _ in todo), self._read_all(image, todo), strict=True))}

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


def _regions(image: np.ndarray, vehicles) -> list[tuple[tuple, tuple[int, int, int, int]]]:
    """Each vehicle box clipped to the image, as integer (x1, y1, x2, y2); tiny ones dropped."""
    height, width = image.shape[:2]
    out = []
    for vehicle in vehicles:
        x1, y1 = max(0, int(vehicle[0])), max(0, int(vehicle[1]))
        x2, y2 = min(width, int(np.ceil(vehicle[2]))), min(height, int(np.ceil(vehicle[3])))
        if x2 - x1 >= 16 and y2 - y1 >= 16:
            out.append((vehicle, (x1, y1, x2, y2)))
    return out


def _overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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
