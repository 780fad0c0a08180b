"""The labelled faces-small photos split into dev (threshold calibration) and test.

dev  = the knn_examples/train photos plus the single-person photos directly in examples/
test = every other labelled photo (knn_examples/test, tests/test_images)
The labelled set (bench/common.py) holds each distinct file once, so no photo is in both.
"""

from __future__ import annotations

from pathlib import Path

from common import faces_small_dir, labelled_faces_small


def _is_dev(path: Path, root: Path) -> bool:
    return path.parent == root / "examples" or root / "examples" / "knn_examples" / "train" in path.parents


def dev_split(root: Path | None = None) -> list[tuple[Path, str]]:
    """(photo, identity) pairs used to calibrate thresholds."""
    root = root or faces_small_dir()
    return [(i.path, i.identity) for i in labelled_faces_small(root) if _is_dev(i.path, root)]


def test_split(root: Path | None = None) -> list[tuple[Path, str]]:
    """(photo, identity) pairs held out from calibration."""
    root = root or faces_small_dir()
    return [(i.path, i.identity) for i in labelled_faces_small(root) if not _is_dev(i.path, root)]
