"""Typed options of an object detector, checked before any model is loaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sightline.errors import ConfigError
from sightline.vision.objects.labels import class_ids


@dataclass(frozen=True)
class DetectorConfig:
    """What every object detector takes besides its model.

    ``min_score`` drops weak detections (None: the detector's own default), ``classes`` keeps only the
    named COCO classes (a list or ``"person,car"``; None: all), ``nms_threshold`` is the IoU above
    which a box of the same class is suppressed by a better one, ``max_detections`` caps the result,
    ``class_agnostic=True`` suppresses overlapping boxes across classes too (one label per object).
    Invalid values raise :class:`ConfigError` when the config is made.
    """

    min_score: float | None = None
    classes: Iterable[str] | str | None = None
    nms_threshold: float = 0.5
    max_detections: int = 100
    class_agnostic: bool = False
    class_filter: frozenset[int] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.min_score is not None and not 0.0 <= float(self.min_score) <= 1.0:
            raise ConfigError(f"min_score must be between 0 and 1, got {self.min_score}", code="bad_min_score")
        object.__setattr__(self, "class_filter", class_ids(self.classes))
