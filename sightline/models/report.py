"""The model report: the backends, and one row per registered file (task, licence, provenance, accuracy, users).

``sightline models report`` prints it and ``docs/models.md`` is generated from it, so the
documentation cannot drift from the registry.
"""

from __future__ import annotations

from sightline.models.registry import REGISTRY
from sightline.models.zoo import FACE_BACKENDS, OBJECT_DETECTORS

HEADER = ("model", "task", "licence", "provenance", "commercial use", "input", "published accuracy",
          "measured accuracy", "used by")


def used_by() -> dict[str, list[str]]:
    """Model name -> the backends (face and object) that load it."""
    users: dict[str, list[str]] = {name: [] for name in REGISTRY}
    for registry in (FACE_BACKENDS, OBJECT_DETECTORS):
        for backend in registry.values():
            for model in backend.models:
                users[model].append(backend.name)
    return users


def report_rows() -> list[dict[str, str]]:
    """One flat, printable row per registered model (registry order)."""
    users = used_by()
    rows = []
    for spec in REGISTRY.values():
        rows.append({
            "model": spec.name, "task": str(spec.task), "licence": spec.licence,
            "provenance": str(spec.provenance), "commercial use": "yes" if spec.commercial_use else "**no (opt-in)**",
            "input": spec.input.describe(), "published accuracy": spec.published_accuracy,
            "measured accuracy": spec.measured_accuracy, "used by": ", ".join(users[spec.name]) or "—",
        })
    return rows


def _auto(order: tuple[str, ...], name: str) -> str:
    return str(order.index(name) + 1) if name in order else "never (name it)"


def backend_rows() -> list[dict[str, str]]:
    """One row per face backend and object backend: what it is made of and where ``auto`` ranks it."""
    rows = [{"backend": b.name, "kind": "face", "components": f"{b.detector} + {b.embedder}",
             "models": ", ".join(b.models), "auto order": _auto(FACE_BACKENDS.preference, b.name),
             "description": b.description} for b in FACE_BACKENDS.values()]
    rows += [{"backend": c.name, "kind": "object", "components": c.name, "models": ", ".join(c.models),
              "auto order": _auto(OBJECT_DETECTORS.preference, c.name), "description": c.description}
             for c in OBJECT_DETECTORS.values()]
    return rows


def _table(header: tuple[str, ...], rows: list[dict[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row[c].replace("|", "\\|") for c in header) + " |" for row in rows]


def markdown_report() -> str:
    """The backends and model files as two markdown tables (the body of ``docs/models.md``)."""
    backends = _table(("backend", "kind", "components", "models", "auto order", "description"), backend_rows())
    return "\n".join([*backends, "", *_table(HEADER, report_rows())]) + "\n"
