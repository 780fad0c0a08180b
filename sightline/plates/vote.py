"""Voting plate reads over the frames of one vehicle track: best N reads, then a character-level vote.

Single frames misread a character now and then (motion blur, a glint, a cut crop). The reads of one track
are ranked by confidence and the best ``best_n`` kept; the length with the most confidence wins, and each
position of the plate takes the character with the most confidence among the reads of that length. The
voted plate's confidence is the mean confidence of those reads times the weakest position's agreement.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackRead:
    """One frame's read of the track's plate, with where it was (full-frame pixels)."""

    text: str
    confidence: float
    box: Box
    frame_index: int


@dataclass(frozen=True)
class VotedPlate:
    """The plate of a track after the vote."""

    text: str
    confidence: float
    reads: int  # reads that took part
    agreeing: int  # of those, reads equal to the voted text
    best: TrackRead  # the surest read of the voted text (its frame gives the snapshot)


@dataclass
class PlateVoter:
    """Collects the reads of one track and votes (keeps only the ``best_n`` surest)."""

    best_n: int = 5
    reads: list[TrackRead] = field(default_factory=list)

    def add(self, read: TrackRead) -> None:
        """Offer one read; only the ``best_n`` most confident are kept."""
        self.reads.append(read)
        self.reads.sort(key=lambda r: -r.confidence)
        del self.reads[self.best_n:]

    def vote(self) -> VotedPlate | None:
        """The voted plate, or None without any read."""
        return vote(self.reads)


def vote(reads: list[TrackRead]) -> VotedPlate | None:
    """Character-level vote over ``reads`` (see the module docstring)."""
    reads = [r for r in reads if r.text]
    if not reads:
        return None
    by_length: dict[int, float] = defaultdict(float)
    for read in reads:
        by_length[len(read.text)] += read.confidence
    length = max(by_length, key=lambda n: (by_length[n], n))
    same = [r for r in reads if len(r.text) == length]
    total = sum(r.confidence for r in same) or 1e-9
    chars, agreement = [], []
    for position in range(length):
        weights: dict[str, float] = defaultdict(float)
        for read in same:
            weights[read.text[position]] += read.confidence
        char = max(weights, key=lambda c: (weights[c], c))
        chars.append(char)
        agreement.append(weights[char] / total)
    text = "".join(chars)
    confidence = float(np.mean([r.confidence for r in same])) * min(agreement)
    agreeing = [r for r in same if r.text == text]
    best = max(agreeing or same, key=lambda r: r.confidence)
    return VotedPlate(text, round(confidence, 4), len(reads), len(agreeing), best)
