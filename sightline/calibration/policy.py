"""The open-set policy of one embedder: impostor curves per image condition and score kind, and the rule in force.

The shipped policy (``shipped.json``, written by ``bench/open_set.py --write-shipped`` from LFW
view 1 only) holds, for each condition, the false-match-rate curve of raw cosine scores and of
cohort z-scores. The identification threshold is derived from the target FPIR and the number of
enrolled templates each time it is asked for, so it follows the gallery as it grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sightline.calibration.impostor import ImpostorCurve
from sightline.calibration.operating_point import OperatingPoint, derive

SHIPPED_FILE = Path(__file__).with_name("shipped.json")
DEFAULT_TARGET_FPIR = 0.01  # "1 in 100 strangers"
SCORE_KINDS = ("cohort-z", "cosine")


@dataclass
class OpenSetPolicy:
    """Curves per condition (``{"colour": {"cosine": curve, "cohort-z": curve}, ...}``) and the defaults."""

    embedder: str
    curves: dict[str, dict[str, ImpostorCurve]]
    target_fpir: float = DEFAULT_TARGET_FPIR
    score_kind: str = "cohort-z"
    margins: dict[str, float] = field(default_factory=dict)
    refused: tuple[str, ...] = ()  # conditions too poor to decide
    source: str = "shipped"
    gallery_scale: float = 1.0  # N_eff = scale * N ** exponent (see operating_point.effective_comparisons)
    gallery_exponent: float = 1.0

    def kind_for(self, have_cohort: bool) -> str:
        """The score kind to use: the preferred one, or raw cosine when no cohort is installed."""
        return self.score_kind if (have_cohort or self.score_kind == "cosine") else "cosine"

    def curve(self, condition: str, kind: str) -> ImpostorCurve:
        """The curve for ``condition``; a combined condition ("grey-lowres") not measured falls back to its
        strictest part, and an unknown one to colour."""
        if condition in self.curves and kind in self.curves[condition]:
            return self.curves[condition][kind]
        parts = [c for c in condition.split("-") if c in self.curves and kind in self.curves[c]]
        if not parts:
            return self.curves["colour"][kind]
        return max((self.curves[c][kind] for c in parts), key=lambda cv: cv.threshold_for(1e-4))

    def operating_point(self, condition: str, comparisons: int, *, kind: str | None = None,
                        target_fpir: float | None = None) -> OperatingPoint:
        """The threshold that holds the target FPIR for ``condition`` with ``comparisons`` templates enrolled."""
        kind = kind or self.score_kind
        return derive(self.curve(condition, kind), target_fpir or self.target_fpir, comparisons,
                      condition=condition, score_kind=kind, source=self.source, margin=self.margins.get(kind, 0.0),
                      scale=self.gallery_scale, exponent=self.gallery_exponent)

    def to_dict(self) -> dict[str, object]:
        return {"embedder": self.embedder, "target_fpir": self.target_fpir, "score_kind": self.score_kind,
                "margins": self.margins, "refused": list(self.refused), "source": self.source,
                "gallery_scale": self.gallery_scale, "gallery_exponent": self.gallery_exponent,
                "curves": {c: {k: cv.to_dict() for k, cv in kinds.items()} for c, kinds in self.curves.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> OpenSetPolicy:
        return cls(embedder=data["embedder"],
                   curves={c: {k: ImpostorCurve.from_dict(cv) for k, cv in kinds.items()}
                           for c, kinds in data["curves"].items()},
                   target_fpir=float(data.get("target_fpir", DEFAULT_TARGET_FPIR)),
                   score_kind=data.get("score_kind", "cohort-z"), margins=dict(data.get("margins", {})),
                   refused=tuple(data.get("refused", ())), source=data.get("source", "shipped"),
                   gallery_scale=float(data.get("gallery_scale", 1.0)),
                   gallery_exponent=float(data.get("gallery_exponent", 1.0)))


def shipped_policy(backend: str, embedder: str | None = None, path: Path = SHIPPED_FILE) -> OpenSetPolicy | None:
    """The shipped policy of ``backend`` (else of another backend with the same embedder; None when neither
    was calibrated, and identification then falls back to the 1:1 threshold)."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    entry = data.get(backend) or next((e for e in data.values() if embedder and e.get("embedder") == embedder), None)
    if not entry:
        return None
    policy = OpenSetPolicy.from_dict(entry)
    if entry.get("backend") != backend:
        policy.source = f"{policy.source}, measured with {entry.get('backend')}"
    return policy
