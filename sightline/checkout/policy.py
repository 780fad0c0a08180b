"""Checkout settings from the environment (``SIGHTLINE_CHECKOUT_*``), each with a safe default.

``SIGHTLINE_CHECKOUT_CHALLENGE`` fixes the challenge (comma-separated steps, e.g. ``turn_right``) instead of
drawing a random one: for tests and kiosk demos only, since a known challenge can be pre-recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sightline.errors import ConfigError

STEPS = ("turn_left", "turn_right", "blink", "move_closer")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _int(name: str, default: int) -> int:
    return int(_float(name, default))


def _fixed() -> tuple[str, ...] | None:
    raw = os.environ.get("SIGHTLINE_CHECKOUT_CHALLENGE", "").strip()
    if not raw:
        return None
    steps = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    bad = [s for s in steps if s not in STEPS]
    if bad or not steps:
        raise ConfigError(f"SIGHTLINE_CHECKOUT_CHALLENGE: unknown steps {bad}; use {', '.join(STEPS)}")
    if set(steps) == {"move_closer"}:
        raise ConfigError("SIGHTLINE_CHECKOUT_CHALLENGE: 'move_closer' alone is passed by a photo brought closer; "
                          "add a turn or a blink")
    return steps


@dataclass(frozen=True)
class CheckoutPolicy:
    """Limits of the checkout flow; every field can be set from the environment."""

    expiry_s: float = field(default_factory=lambda: _float("SIGHTLINE_CHECKOUT_EXPIRY_S", 30.0))
    steps: int = field(default_factory=lambda: _int("SIGHTLINE_CHECKOUT_STEPS", 2))
    fixed_challenge: tuple[str, ...] | None = field(default_factory=_fixed)
    terminal_per_minute: int = field(default_factory=lambda: _int("SIGHTLINE_CHECKOUT_TERMINAL_PER_MIN", 20))
    subject_per_hour: int = field(default_factory=lambda: _int("SIGHTLINE_CHECKOUT_SUBJECT_PER_HOUR", 10))
    lockout_failures: int = field(default_factory=lambda: _int("SIGHTLINE_CHECKOUT_LOCKOUT_FAILURES", 3))
    lockout_s: float = field(default_factory=lambda: _float("SIGHTLINE_CHECKOUT_LOCKOUT_S", 900.0))
    retention_hours: float = field(default_factory=lambda: _float("SIGHTLINE_CHECKOUT_RETENTION_H", 24.0))
    max_frames: int = 48  # frames analysed per attempt (a clip is sampled down to this)
    embed_frames: int = 3  # the most frontal frames are embedded and fused
    clock_skew_s: float = 2.0  # a terminal's clock may be this far off the server's

    def __post_init__(self) -> None:
        if not 3.0 <= self.expiry_s <= 300.0:
            raise ConfigError("SIGHTLINE_CHECKOUT_EXPIRY_S must be between 3 and 300 seconds")
        if not 1 <= self.steps <= len(STEPS):
            raise ConfigError(f"SIGHTLINE_CHECKOUT_STEPS must be between 1 and {len(STEPS)}")
