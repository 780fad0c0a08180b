"""``sightline models list|verify|pull|report``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sightline.cli.options import JsonOption, ModelsOption
from sightline.cli.output import console, emit_json, handle_errors
from sightline.errors import ModelError
from sightline.models.registry import REGISTRY
from sightline.models.store import ModelStore

app = typer.Typer(help="Model files: what they are, whether they are intact, where to get them.",
                  no_args_is_help=True)


@app.command("list")
def list_models(models: Path | None = ModelsOption, as_json: bool = JsonOption) -> None:
    """Every registered model with task, licence, provenance, commercial-use flag and where it was found."""
    from sightline.models.report import used_by

    store = ModelStore(models)
    users = used_by()
    rows = []
    for spec in REGISTRY.values():
        path = store.locate(spec.name)
        rows.append({**spec.to_dict(), "used_by": users[spec.name], "found_at": str(path) if path else None})
    if as_json:
        emit_json({"models": rows})
        return
    table = Table(title="Sightline models")
    for column in ("name", "task", "licence", "provenance", "commercial", "used by", "found at"):
        table.add_column(column, overflow="fold")
    for row in rows:
        commercial = "yes" if row["commercial_use"] else "[yellow]no (opt-in)[/]"
        table.add_row(row["name"], row["task"], row["licence"], row["provenance"], commercial,
                      ", ".join(row["used_by"]) or "—", row["found_at"] or "[red]missing[/]")
    console.print(table)


@app.command()
def report() -> None:
    """The model report as a markdown table (task, licence, provenance, accuracy, backends using it)."""
    from sightline.models.report import markdown_report

    typer.echo(markdown_report(), nl=False)


@app.command()
def quantize(
    name: str = typer.Argument(..., help="Model: yolox-nano, nanodet, yunet-2023mar or an ArcFace-template embedder."),
    calibration: list[Path] = typer.Option(..., "--calibration", help="Calibration photos or folders (not your "
                                                                     "accuracy test images)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the int8 file (default: the models cache)."),
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Write an int8 copy of a model (onnxruntime static quantisation); measure it with bench/coco.py or int8.py."""
    from sightline.models.quantize import quantize_model, registered_int8
    from sightline.models.registry import get_spec
    from sightline.models.store import sha256_file

    with handle_errors(as_json):
        path = quantize_model(name, calibration, out, ModelStore(models))
        registered = registered_int8(name, path)
    if as_json:
        emit_json({"model": name, "int8": str(path), "sha256": sha256_file(path), "registered_as": registered,
                   "shipped": registered is not None and get_spec(name).variants.get("int8") == registered})
    elif registered and get_spec(name).variants.get("int8") == registered:
        console.print(f"int8 copy of {name}: {path} = registered model {registered} "
                      "(use it with SIGHTLINE_MODEL_VARIANT=int8)", highlight=False)
    elif registered:
        console.print(f"int8 copy of {name}: {path} = registered model {registered}, measured but not shipped as "
                      "the int8 variant (see `sightline models report`)", highlight=False)
    else:
        console.print(f"int8 copy of {name}: {path} (not the registered file: other calibration images or "
                      f"library versions; measure it: python bench/coco.py --onnx int8=<backend>:{path} for "
                      "an object detector, bench/int8.py for a face model)",
                      highlight=False)


@app.command()
def verify(
    names: list[str] = typer.Argument(None, help="Models to check (default: all)."),
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Check each model file's sha256; exit 3 if any present file is corrupt or a named one is missing."""
    store = ModelStore(models)
    with handle_errors(as_json):
        statuses = [store.status(n) for n in names] if names else store.status_all()
    bad = [s for s in statuses if not s.ok and (names or s.path is not None)]
    if as_json:
        emit_json({"models": [s.to_dict() for s in statuses], "ok": not bad})
    else:
        for status in statuses:
            mark = "[green]ok[/]" if status.ok else ("[red]BAD[/]" if status.path else "[yellow]missing[/]")
            console.print(f"{mark} {status.name}: {status.path or status.problem}", highlight=False)
    if bad:
        raise typer.Exit(ModelError.exit_code)


@app.command()
def pull(
    names: list[str] = typer.Argument(..., help="Models to download."),
    url: str | None = typer.Option(None, help="Download from this URL instead of the registered one."),
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Download models from their upstream URL (needs internet) and verify their sha256."""
    store = ModelStore(models)
    with handle_errors(as_json):
        paths = {name: str(store.pull(name, url=url)) for name in names}
    if as_json:
        emit_json({"pulled": paths})
    else:
        for name, path in paths.items():
            console.print(f"[green]pulled[/] {name} -> {path}")
