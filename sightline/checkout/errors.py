"""Checkout refusals: each has a stable code and the HTTP status the API answers with."""

from __future__ import annotations

from sightline.errors import SightlineError


class CheckoutError(SightlineError):
    """A checkout request refused with a reason a cashier can read (never a server fault)."""

    code = "checkout_refused"

    def __init__(self, message: str, *, code: str, status: int = 422) -> None:
        super().__init__(message, code=code)
        self.status = status
