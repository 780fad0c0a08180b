"""Challenges: a short random sequence of head movements and blinks, with a one-time nonce."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sightline.checkout.policy import STEPS

PROMPTS = {
    "turn_left": "Turn your head to your left, then back",
    "turn_right": "Turn your head to your right, then back",
    "blink": "Blink",
    "move_closer": "Move closer to the camera",
}
_OPPOSITE = {"turn_left": "turn_right", "turn_right": "turn_left"}


@dataclass(frozen=True)
class Challenge:
    """What the customer must do, in order, and the nonce that makes the session one-time."""

    steps: tuple[str, ...]
    nonce: str

    def to_dict(self) -> dict[str, object]:
        return {"steps": list(self.steps), "prompts": [PROMPTS[s] for s in self.steps], "nonce": self.nonce}


def new_nonce() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def draw_steps(count: int, fixed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """``count`` distinct steps in random order, or the ``fixed`` ones when configured. Never both turns back to
    back (a lazy head-shake would give them for free) and never "move closer" alone (a photo brought closer
    does it too)."""
    if fixed:
        return tuple(fixed)
    rng = secrets.SystemRandom()
    while True:
        steps = tuple(rng.sample(STEPS, count))
        if steps == ("move_closer",):
            continue
        if not any(_OPPOSITE.get(a) == b for a, b in zip(steps, steps[1:], strict=False)):
            return steps


def new_challenge(count: int, fixed: tuple[str, ...] | None = None) -> Challenge:
    """A fresh challenge with a fresh nonce."""
    return Challenge(draw_steps(count, fixed), new_nonce())
