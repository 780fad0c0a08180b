"""Export hooks: other stores holding data about a subject add it to the subject-access export.

``Gallery.export`` calls every hook with its open read session and the subject id and writes what each
returns (JSON-ready records, never biometric data) under ``related`` in ``subject.json``. Hooks are
registered at start next to the erasure hooks (:func:`sightline.jobs.hooks.install_hooks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

ExportHook = Callable[[Session, str], list[dict[str, Any]]]
_HOOKS: dict[str, ExportHook] = {}


def register_export_hook(name: str, hook: ExportHook) -> None:
    """Add ``hook(session, subject_id) -> records`` to every export (registering a name again replaces it)."""
    _HOOKS[name] = hook


def run_export_hooks(session: Session, subject_id: str) -> dict[str, list[dict[str, Any]]]:
    """{name: records} from every hook."""
    return {name: hook(session, subject_id) for name, hook in sorted(_HOOKS.items())}
