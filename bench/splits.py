"""Labelled face photos in ../shared/data/faces-small, split into dev (calibration) and test.

dev  = the knn_examples/train photos plus the single-person photos in examples/
test = knn_examples/test single-person photos plus tests/test_images
A file whose bytes also appear in dev is dropped from test, so no photo is in both.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FACES = Path(os.environ.get("SIGHTLINE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "faces-small"

# file-name prefix -> identity, for photos outside the per-person train folders
PREFIXES = {
    "obama": "obama",
    "biden": "biden",
    "alex": "alex_lacamoire",
    "lin-manuel": "lin_manuel_miranda",
    "johnsnow": "kit_harington",
}
MULTI_PERSON = ("two_people", "obama_and_biden", "kit_with_rose", "group_six_people", "32bit")


def _label(path: Path) -> str | None:
    if any(path.name.startswith(m) for m in MULTI_PERSON):
        return None
    for prefix, identity in PREFIXES.items():
        if path.name.startswith(prefix):
            return identity
    return None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dev_split(root: Path = FACES) -> list[tuple[Path, str]]:
    """(photo, identity) pairs used to calibrate thresholds."""
    items = [(p, p.parent.name) for p in sorted((root / "examples/knn_examples/train").glob("*/*"))]
    items += [(p, label) for p in sorted((root / "examples").glob("*.*")) if (label := _label(p))]
    return _dedupe(items)


def test_split(root: Path = FACES) -> list[tuple[Path, str]]:
    """(photo, identity) pairs held out from calibration."""
    seen = {_digest(p) for p, _ in dev_split(root)}
    candidates = sorted((root / "examples/knn_examples/test").glob("*"))
    candidates += sorted((root / "tests/test_images").glob("*"))
    items = [(p, label) for p in candidates if (label := _label(p))]
    return [(p, label) for p, label in _dedupe(items) if _digest(p) not in seen]


def _dedupe(items: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    seen: set[str] = set()
    out = []
    for path, label in items:
        digest = _digest(path)
        if digest not in seen:
            seen.add(digest)
            out.append((path, label))
    return out
