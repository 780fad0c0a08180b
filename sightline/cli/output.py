"""Shared CLI plumbing: JSON vs rich output and turning errors into exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from sightline.errors import ImageError, SightlineError

console = Console()
err_console = Console(stderr=True)


def emit_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit_json_line(payload: Any) -> None:
    """Write one compact JSON document on one line (JSON Lines, for streams of events)."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
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


def process_images(paths: list[Path], work: Callable[[Path], dict[str, Any]], *, as_json: bool,
                   empty: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Run ``work`` on each image path; a bad image becomes an error entry (and a message) and the rest carry on.

    Returns the per-image result dicts (``image``, the fields ``work`` returns or ``empty``, ``error``) and the
    number of images that failed.
    """
    results: list[dict[str, Any]] = []
    failures = 0
    for path in paths:
        try:
            results.append({"image": str(path), **work(path), "error": None})
        except SightlineError as exc:
            failures += 1
            results.append({"image": str(path), **empty, "error": exc.to_dict()})
            if not as_json:
                err_console.print(f"[red]{path}[/]: ({exc.code}) {exc.message}", highlight=False)
    return results, failures


def exit_if_failed(failures: int) -> None:
    """Exit with the bad-image code (2) when any image of a batch failed."""
    if failures:
        raise typer.Exit(ImageError.exit_code)


def save_annotated(folder: Path | None, source: Path, canvas: Any) -> None:
    """Write ``canvas`` (a drawn BGR image) as ``folder/<source stem>.jpg``; nothing when ``folder`` is None."""
    if folder is None:
        return
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{source.stem}.jpg"), canvas)
