"""Matching a read plate against list entries: exact, or fuzzy (confusable characters, or one edit).

A fuzzy match is always reported as fuzzy, with its reason, never as an exact hit: an operator must
check the plate before acting on it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Characters a plate reader confuses, mapped to one representative per group.
CONFUSABLE = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "B": "8", "S": "5", "Z": "2",
                            "G": "6"})
MIN_FUZZY_LENGTH = 4


@dataclass(frozen=True)
class Match:
    """How a read matched an entry: ``exact``, or ``fuzzy`` with reason ``confusable`` or ``one_edit``."""

    kind: str
    reason: str | None = None

    @property
    def exact(self) -> bool:
        return self.kind == "exact"


def canonical(plate: str) -> str:
    """``plate`` with every confusable character replaced by its group's representative."""
    return plate.translate(CONFUSABLE)


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion or deletion."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def match(read: str, entry: str) -> Match | None:
    """How ``read`` matches list entry ``entry`` (both normalised), or None."""
    if read == entry:
        return Match("exact")
    if min(len(read), len(entry)) < MIN_FUZZY_LENGTH:
        return None
    if canonical(read) == canonical(entry):
        return Match("fuzzy", "confusable")
    if within_one_edit(read, entry) or within_one_edit(canonical(read), canonical(entry)):
        return Match("fuzzy", "one_edit")
    return None
