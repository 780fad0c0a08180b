"""Read ``catalogue.toml``: the data behind the model registry (no logic lives in the data)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sightline.errors import ModelError
from sightline.models.spec import InputSpec, ModelSpec, Provenance, Task

CATALOGUE = Path(__file__).with_name("catalogue.toml")


def _spec(row: dict[str, Any]) -> ModelSpec:
    fields = dict(row)
    raw_input = dict(fields.pop("input", {}))
    if "size" in raw_input:
        raw_input["size"] = tuple(raw_input["size"])
    try:
        return ModelSpec(task=Task(fields.pop("task")), provenance=Provenance(fields.pop("provenance")),
                         input=InputSpec(**raw_input), **fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"bad model catalogue entry {row.get('name')!r}: {exc}", code="bad_catalogue") from None


def load_catalogue(path: Path = CATALOGUE) -> list[ModelSpec]:
    """Every ``[[model]]`` of the catalogue as a :class:`ModelSpec`, in file order."""
    with path.open("rb") as handle:
        rows = tomllib.load(handle).get("model", [])
    return [_spec(row) for row in rows]
