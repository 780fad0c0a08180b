"""Shared CLI plumbing: JSON vs rich output and turning errors into exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from sightline.errors import SightlineError

console = Console()
err_console = Console(stderr=True)


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def handle_errors(as_json: bool) -> Iterator[None]:
    """Report a :class:`SightlineError` clearly (text or JSON) and exit with its code."""
    try:
        yield
    except SightlineError as exc:
        if as_json:
            emit_json({"error": exc.to_dict()})
        else:
            err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
