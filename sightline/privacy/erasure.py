"""Erasure hooks: other stores holding data about a subject join the gallery's erasure transaction.

``Gallery.erase`` calls every hook with its open session and the subject id
before deleting the subject, so the event history (and anything added later)
is cleaned in the same transaction; each hook returns small counts that go
into the audit row. Hooks are registered explicitly at start: the server and
the CLI call :func:`sightline.jobs.hooks.install_erasure_hooks` (this module
imports no other store).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

ErasureHook = Callable[[Session, str], Any]
_HOOKS: dict[str, ErasureHook] = {}


def register_erasure_hook(name: str, hook: ErasureHook) -> None:
    """Run ``hook(session, subject_id)`` inside every subject erasure (registering a name again replaces it)."""
    _HOOKS[name] = hook


def registered_erasure_hooks() -> list[str]:
    """Names of the hooks every erasure runs now."""
    return sorted(_HOOKS)


def run_erasure_hooks(session: Session, subject_id: str) -> dict[str, Any]:
    """Call every hook; returns {name: counts} for the audit log (no personal data)."""
    results: dict[str, Any] = {}
    for name, hook in sorted(_HOOKS.items()):
        outcome = hook(session, subject_id)
        if dataclasses.is_dataclass(outcome) and not isinstance(outcome, type):
            outcome = dataclasses.asdict(outcome)
        results[name] = _counts(outcome)
    return results


def _counts(outcome: Any) -> dict[str, int]:
    """Only numbers reach the audit log: lists (e.g. deleted file paths) become their length."""
    if not isinstance(outcome, dict):
        return {}
    return {key: len(value) if isinstance(value, list | tuple | set) else int(value)
            for key, value in outcome.items() if isinstance(value, int | list | tuple | set)}
