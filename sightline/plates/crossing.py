"""Direction of a vehicle across a counting line (camera YAML ``plates.line``).

The line runs from ``a`` to ``b``. A point's side is the sign of the cross product (b - a) x (p - a) in image
coordinates (y down): a vehicle whose bottom centre moves from the negative side to the positive side
crossed ``in``, the other way ``out``. Where it never changed sides there is no direction.
"""

from __future__ import annotations

Point = tuple[float, float]


def side(a: Point, b: Point, p: Point) -> int:
    """+1, -1 or 0: which side of the line a -> b the point ``p`` lies on."""
    value = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    return (value > 0) - (value < 0)


def _within_segment(a: Point, b: Point, p: Point, q: Point) -> bool:
    """True when the movement p -> q crosses the segment a-b (not only its infinite line)."""
    return side(p, q, a) * side(p, q, b) <= 0


def crossing(a: Point, b: Point, path: list[Point]) -> str | None:
    """``in``, ``out`` or None for a track's path (bottom centres, in order); the last crossing counts."""
    result = None
    for p, q in zip(path, path[1:], strict=False):
        before, after = side(a, b, p), side(a, b, q)
        if before and after and before != after and _within_segment(a, b, p, q):
            result = "in" if after > 0 else "out"
    return result
