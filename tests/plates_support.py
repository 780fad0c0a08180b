"""Shared helpers for the plate tests: real plate photos from plates-dev and their ground truth."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", REPO.parent / "shared"))
PLATES = Path(os.environ.get("SIGHTLINE_DATA", SHARED / "data")) / "plates-dev"


def truth(region: str, stem: str) -> tuple[Path, tuple[float, float, float, float], str]:
    """(image path, ground-truth box x1,y1,x2,y2, plate text) of ``plates-dev/<region>/<stem>``."""
    name, x, y, w, h, plate = (PLATES / region / f"{stem}.txt").read_text().strip().split("\t")[:6]
    x, y, w, h = (float(v) for v in (x, y, w, h))
    return PLATES / region / name, (x, y, x + w, y + h), plate


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
