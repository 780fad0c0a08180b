"""The model report: one row per registered file with task, licence, provenance, accuracy and users.

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


def markdown_report() -> str:
    """The report as a markdown table (the body of ``docs/models.md``)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(row[column]) for column in HEADER) + " |" for row in report_rows()]
    return "\n".join(lines) + "\n"
