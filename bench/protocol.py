"""The LFW verification protocol as pure logic: pairs files, folds, threshold selection, accuracy.

View 2 ``pairs.txt`` starts with ``"<folds> <n>"``; each fold then has ``n``
matched lines ``name n1 n2`` followed by ``n`` mismatched lines
``name1 n1 name2 n2``. Each fold is scored with the threshold that maximises
accuracy on the other folds (Huang et al., "Labeled Faces in the Wild", 2007).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sightline.errors import SightlineError


class PairsFormatError(SightlineError):
    """A pairs file does not follow the LFW format."""

    code = "bad_pairs_file"
    exit_code = 2


@dataclass(frozen=True)
class LfwPair:
    """Two LFW images (person name + 1-based image number) and whether they show the same person."""

    fold: int
    name_a: str
    num_a: int
    name_b: str
    num_b: int

    @property
    def same(self) -> bool:
        return self.name_a == self.name_b


def lfw_image_path(root: Path, name: str, number: int) -> Path:
    """``root/name/name_0001.jpg`` for image 1 of ``name``."""
    return root / name / f"{name}_{number:04d}.jpg"


def _number(token: str, line_no: int) -> int:
    try:
        value = int(token)
    except ValueError:
        raise PairsFormatError(f"line {line_no}: {token!r} is not an image number") from None
    if value < 1:
        raise PairsFormatError(f"line {line_no}: image numbers start at 1, got {value}")
    return value


def parse_pairs(text: str) -> list[LfwPair]:
    """Parse the text of an LFW ``pairs.txt`` (``"10 300"`` header; a single count means one fold)."""
    lines = [(i, line.split()) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise PairsFormatError("pairs file is empty")
    header_no, header = lines[0]
    try:
        counts = [int(token) for token in header]
    except ValueError:
        raise PairsFormatError(f"line {header_no}: header must be '<folds> <pairs per class>', got {header}") from None
    if len(counts) == 1:
        counts = [1, counts[0]]
    if len(counts) != 2 or min(counts) < 1:
        raise PairsFormatError(f"line {header_no}: header must be '<folds> <pairs per class>', got {header}")
    folds, per_class = counts
    body = lines[1:]
    if len(body) != 2 * folds * per_class:
        raise PairsFormatError(
            f"header promises {folds} folds x {per_class} matched + {per_class} mismatched = "
            f"{2 * folds * per_class} pairs, file has {len(body)}"
        )
    pairs: list[LfwPair] = []
    for index, (line_no, tokens) in enumerate(body):
        fold, position = divmod(index, 2 * per_class)
        if position < per_class:
            if len(tokens) != 3:
                raise PairsFormatError(f"line {line_no}: matched pair must be 'name n1 n2', got {' '.join(tokens)!r}")
            name, a, b = tokens
            pairs.append(LfwPair(fold, name, _number(a, line_no), name, _number(b, line_no)))
        else:
            if len(tokens) != 4:
                raise PairsFormatError(
                    f"line {line_no}: mismatched pair must be 'name1 n1 name2 n2', got {' '.join(tokens)!r}")
            name_a, a, name_b, b = tokens
            if name_a == name_b:
                raise PairsFormatError(f"line {line_no}: mismatched pair names the same person twice ({name_a})")
            pairs.append(LfwPair(fold, name_a, _number(a, line_no), name_b, _number(b, line_no)))
    return pairs


def read_pairs(path: Path) -> list[LfwPair]:
    """Parse the LFW pairs file at ``path``."""
    if not path.is_file():
        raise PairsFormatError(f"{path}: no such pairs file", code="not_found")
    return parse_pairs(path.read_text(encoding="utf-8", errors="replace"))


def stratified_folds(same: np.ndarray, n_folds: int = 10, seed: int = 0) -> np.ndarray:
    """Fold index per pair: genuine and impostor pairs shuffled separately and dealt round-robin."""
    same = np.asarray(same, dtype=bool)
    folds = np.empty(same.size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for label in (True, False):
        indices = np.flatnonzero(same == label)
        rng.shuffle(indices)
        folds[indices] = np.arange(indices.size) % n_folds
    return folds


def accuracy(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of pairs judged right when ``score >= threshold`` means "same person"."""
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    return float(np.mean((scores >= threshold) == same))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold maximising accuracy on these pairs.

    Candidates are the midpoints between consecutive distinct scores plus one
    value below and one above all of them; among equally accurate candidates
    the middle one (in score order; the upper of two) is taken.
    """
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    if scores.size == 0:
        raise ValueError("no pairs to choose a threshold on")
    distinct = np.unique(scores)
    candidates = np.concatenate([[distinct[0] - 1e-3], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1e-3]])
    genuine, impostor = np.sort(scores[same]), np.sort(scores[~same])
    correct_genuine = genuine.size - np.searchsorted(genuine, candidates, side="left")  # genuine >= t
    correct_impostor = np.searchsorted(impostor, candidates, side="left")  # impostor < t
    correct = correct_genuine + correct_impostor
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[best.size // 2]])


@dataclass(frozen=True)
class FoldResult:
    """Threshold chosen on the other folds and accuracy on this one."""

    fold: int
    threshold: float
    accuracy: float
    pairs: int


@dataclass(frozen=True)
class ProtocolResult:
    """All folds of one run of the protocol."""

    folds: list[FoldResult]

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([f.accuracy for f in self.folds])

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        """Sample standard deviation across folds (n - 1), as LFW's results page uses."""
        return float(self.accuracies.std(ddof=1)) if len(self.folds) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        return self.std / float(np.sqrt(len(self.folds)))

    @property
    def thresholds(self) -> list[float]:
        return [f.threshold for f in self.folds]


def cross_validate(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> ProtocolResult:
    """Leave-one-fold-out: for each fold, pick the threshold on the rest and score this fold."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    folds = np.asarray(folds)
    if not scores.shape == same.shape == folds.shape:
        raise ValueError("scores, same and folds must have one entry per pair")
    fold_ids = np.unique(folds)
    if fold_ids.size < 2:
        raise ValueError("cross-validation needs at least two folds")
    results = []
    for fold in fold_ids:
        held_out = folds == fold
        threshold = best_threshold(scores[~held_out], same[~held_out])
        results.append(FoldResult(int(fold), threshold, accuracy(scores[held_out], same[held_out], threshold),
                                  int(held_out.sum())))
    return ProtocolResult(results)
