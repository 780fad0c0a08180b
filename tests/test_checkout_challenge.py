"""Challenge drawing and the fixed-challenge setting: pure rules, checked over many real draws."""

from __future__ import annotations

import pytest

from sightline.checkout.challenge import new_challenge
from sightline.checkout.policy import STEPS, CheckoutPolicy
from sightline.errors import ConfigError


def test_draws_are_random_one_time_and_never_trivial():
    drawn = [new_challenge(2) for _ in range(400)]
    assert len({c.nonce for c in drawn}) == 400
    orders = {c.steps for c in drawn}
    assert len(orders) == 10  # every ordered pair of distinct steps but the two back-to-back head shakes
    assert ("turn_left", "turn_right") not in orders and ("turn_right", "turn_left") not in orders
    singles = {new_challenge(1).steps for _ in range(200)}
    assert singles == {("turn_left",), ("turn_right",), ("blink",)}  # a photo brought closer "moves closer"
    assert all(set(c.steps) <= set(STEPS) for c in drawn)


def test_fixed_challenge_from_the_environment(monkeypatch):
    monkeypatch.setenv("SIGHTLINE_CHECKOUT_CHALLENGE", "turn_right, blink")
    policy = CheckoutPolicy()
    assert policy.fixed_challenge == ("turn_right", "blink")
    assert new_challenge(policy.steps, policy.fixed_challenge).steps == ("turn_right", "blink")
    for bad in ("nod", "move_closer", "turn_right,wink"):
        monkeypatch.setenv("SIGHTLINE_CHECKOUT_CHALLENGE", bad)
        with pytest.raises(ConfigError):
            CheckoutPolicy()
    monkeypatch.delenv("SIGHTLINE_CHECKOUT_CHALLENGE")
    monkeypatch.setenv("SIGHTLINE_CHECKOUT_EXPIRY_S", "1")
    with pytest.raises(ConfigError):
        CheckoutPolicy()
