"""Which threshold a request may use, and which a subject may carry.

The calibrated threshold (per face backend, see README) is the default. A
request may *raise* it freely. *Lowering* it needs the caller's explicit
right (an admin key on the API; the key holder on the CLI) and never goes
below ``calibrated - MAX_LOWERING`` (the documented floor). A subject's own
threshold can only be stricter than the calibrated one.
"""

from __future__ import annotations

import math

from sightline.errors import SightlineError

MAX_LOWERING = 0.05  # the floor: no request goes below calibrated - 0.05


class ThresholdError(SightlineError):
    """A threshold that is not allowed: ``threshold_needs_admin``, ``threshold_too_low`` or ``bad_threshold``."""

    code = "bad_threshold"


def threshold_floor(calibrated: float) -> float:
    """The lowest threshold any request may use."""
    return round(calibrated - MAX_LOWERING, 6)


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not -1.0 <= value <= 1.0:
        raise ThresholdError(f"{what} must be a number between -1 and 1, got {value!r}")
    return float(value)


def request_threshold(requested: float | None, calibrated: float, *, may_lower: bool) -> float:
    """The threshold a request will use; raises :class:`ThresholdError` when it may not lower it that far."""
    if requested is None:
        return calibrated
    value = _finite(requested, "threshold")
    if value >= calibrated:
        return value
    if not may_lower:
        raise ThresholdError(f"threshold {value} is below the calibrated {calibrated}: lowering it needs an admin "
                             "key", code="threshold_needs_admin")
    floor = threshold_floor(calibrated)
    if value < floor:
        raise ThresholdError(f"threshold {value} is below the floor {floor} (calibrated {calibrated} - "
                             f"{MAX_LOWERING})", code="threshold_too_low")
    return value


def check_subject_threshold(value: float | None, calibrated: float) -> float | None:
    """A subject's own threshold: None (use the calibrated one) or at least the calibrated value."""
    if value is None:
        return None
    value = _finite(value, "a subject's threshold")
    if value < calibrated:
        raise ThresholdError(f"a subject's own threshold can only be stricter than the calibrated {calibrated}, "
                             f"got {value}", code="threshold_too_low")
    return value
