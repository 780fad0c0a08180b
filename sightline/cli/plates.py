"""``sightline plates read|add|list|lookup|export|erase``: licence plates and the watch/allow lists."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, HomeOption, JsonOption, ModelsOption
from sightline.cli.output import console, emit_json, exit_if_failed, handle_errors, process_images, save_annotated
from sightline.models.store import ModelStore
from sightline.plates.service import PlateService, build_plate_reader
from sightline.vision.image_io import load_image
from sightline.vision.plates.draw import draw_plates

app = typer.Typer(help="Licence plates: read them, and keep watch/allow lists (with a legal basis).",
                  no_args_is_help=True)
RegionOption = typer.Option("eu", "--region", help="Plate formats to apply: eu or us.")


@app.command()
def read(
    images: list[Path] = typer.Argument(..., help="Image files."),
    region: str = RegionOption,
    annotate: Path | None = typer.Option(None, "--annotate", help="Folder to write annotated copies into."),
    vehicles: bool = typer.Option(True, "--vehicles/--no-vehicles",
                                  help="Also search plates inside vehicle boxes (object detector)."),
    threads: int | None = typer.Option(None, "--threads", min=0, help="onnxruntime threads (default: all cores)."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    models: Path | None = ModelsOption, as_json: bool = JsonOption,
) -> None:
    """Read plates; each read is checked against the lists (hits audited; unlisted plates kept as keyed hash only)."""
    with handle_errors(as_json):
        reader = build_plate_reader(region, store=ModelStore(models), vehicles=vehicles, threads=threads)
        gallery = open_gallery(home, db_url, actor)
        service = PlateService.from_gallery(gallery, reader)

    def work(path: Path) -> dict:
        pixels = load_image(path)
        result = service.read(pixels, actor=gallery.actor, source="cli")
        if annotate is not None:
            save_annotated(annotate, path, draw_plates(pixels, result["plates"]))
        if not as_json:
            _print_reads(path, result["plates"])
        return result

    with gallery:
        results, failures = process_images(images, work, as_json=as_json, empty={"plates": []})
    if as_json:
        emit_json({"region": region, "results": results})
    exit_if_failed(failures)


@app.command()
def add(
    plate: str = typer.Argument(..., help="The plate, e.g. 'AB-123-CD' (spaces and dashes are removed)."),
    list_kind: str = typer.Option(..., "--list", help="watch or allow."),
    legal_basis: str | None = typer.Option(None, "--legal-basis", help="GDPR art. 6 basis, e.g. legitimate_interest."),
    purpose: str | None = typer.Option(None, "--purpose", help="Why this plate is on the list."),
    retention_days: int | None = typer.Option(None, "--retention-days", min=1, help="Erase after this many days."),
    evidence: str | None = typer.Option(None, "--evidence", help="Evidence reference (required for consent)."),
    note: str | None = typer.Option(None, "--note", help="A reference, e.g. a case number."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Put a plate on the watch or allow list (refused without legal basis, purpose and retention)."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        entry = PlateService.from_gallery(gallery).lists.add(
            list_kind=list_kind, plate=plate, legal_basis=legal_basis, purpose=purpose, actor=gallery.actor,
            retention_days=retention_days, evidence=evidence, note=note)
    if as_json:
        emit_json(entry)
    else:
        console.print(f"added {entry['plate']} to the {entry['list']} list as {entry['id']} "
                      f"(kept until {entry['retain_until'][:10]})", highlight=False)


@app.command("list")
def list_entries(
    list_kind: str | None = typer.Option(None, "--list", help="Only this list: watch or allow."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Show the list entries."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        entries = PlateService.from_gallery(gallery).lists.entries(list_kind)
    if as_json:
        emit_json({"entries": entries})
        return
    table = Table(title=f"{len(entries)} plate list entr{'y' if len(entries) == 1 else 'ies'}", title_justify="left")
    for column in ("id", "list", "plate", "legal basis", "purpose", "until"):
        table.add_column(column)
    for e in entries:
        table.add_row(e["id"], e["list"], e["plate"], e["legal_basis"], e["purpose"], e["retain_until"][:10])
    console.print(table)


@app.command()
def lookup(
    plate: str = typer.Argument(..., help="The plate to look up."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Is this plate on a list? Exact and fuzzy (confusable characters, one edit) matches; audited."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        hits = PlateService.from_gallery(gallery).lists.lookup(plate, actor=gallery.actor)
    if as_json:
        emit_json({"hits": [h.to_dict() for h in hits]})
        return
    if not hits:
        console.print("not on any list")
    for h in hits:
        console.print(f"{h.match.kind}{' (' + h.match.reason + ')' if h.match.reason else ''}: {h.plate} on the "
                      f"{h.list_kind} list ({h.entry_id})", highlight=False)


@app.command()
def export(
    entry_id: str = typer.Argument(..., help="Entry id (pl_...)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the JSON here (default: stdout)."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Everything held about one entry (record, sightings count, audit rows); the export is audited."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        data = PlateService.from_gallery(gallery).lists.export(entry_id, actor=gallery.actor)
    if out is None:
        emit_json(data)
        return
    out.write_text(json.dumps(data, indent=2))
    if as_json:
        emit_json({"file": str(out)})
    else:
        console.print(f"wrote {out}", highlight=False)


@app.command()
def erase(
    entry_id: str = typer.Argument(..., help="Entry id (pl_...)."),
    reason: str = typer.Option("request", "--reason", help="Why (recorded in the audit log)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Erase a list entry and every keyed-hash sighting of its plate (audited)."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        lists = PlateService.from_gallery(gallery).lists
        lists.get(entry_id)
        if not yes and not as_json and not typer.confirm(f"Erase plate list entry {entry_id}?"):
            raise typer.Exit(1)
        counts = lists.erase(entry_id, actor=gallery.actor, reason=reason)
    if as_json:
        emit_json({"entry_id": entry_id, **counts})
    else:
        console.print(f"erased {entry_id} ({counts['sightings']} sighting(s))", highlight=False)


def _print_reads(path: Path, plates: list[dict]) -> None:
    table = Table(title=f"{path} — {len(plates)} plate(s)", title_justify="left")
    for column in ("#", "plate", "confidence", "format", "box (x1,y1,x2,y2)", "list"):
        table.add_column(column)
    for index, p in enumerate(plates):
        hits = ", ".join(f"{h['list']} {h['match']}" for h in p["list_hits"]) or "-"
        table.add_row(str(index), p["text"] or "(unreadable)", f"{p['confidence']:.2f}", p["format"] or "-",
                      ", ".join(f"{v:.0f}" for v in p["box"]), hits)
    console.print(table)
