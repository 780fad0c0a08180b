"""``sightline init``, ``sightline identify`` and ``sightline gallery enroll|list|show|erase|export``."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sightline.api.bootstrap import ensure_admin_key
from sightline.cli.options import (
    ActorOption,
    DbOption,
    HomeOption,
    IndexOption,
    JsonOption,
    ModelsOption,
)
from sightline.cli.options import FaceBackendOption as BackendOption
from sightline.cli.output import console, emit_json, err_console, exit_if_failed, handle_errors, process_images
from sightline.engine import FaceEngine
from sightline.errors import LegalBasisError, QualityError, SightlineError
from sightline.gallery.enrol import EnrolResult, enroll_files
from sightline.gallery.gallery import Gallery, default_actor
from sightline.gallery.subjects import LegalBasis

app = typer.Typer(help="Enrolled people: enrol (with a legal basis), list, show, erase, export.",
                  no_args_is_help=True)



def open_gallery(home: Path | None, db_url: str | None, actor: str | None = None, *, backend: str | None = None,
                 models: Path | None = None, index: str = "exact", create_key: bool = False) -> Gallery:
    """The gallery the CLI options name (shared by every command group that needs the store)."""
    engine = FaceEngine(backend, models_dir=str(models) if models else None) if backend else None
    return Gallery.open(home, db_url, engine, index_kind=index, actor=actor, create_key=create_key)


# -- top-level commands (registered in sightline/cli/__init__.py) --------------------------------
def init(home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
         as_json: bool = JsonOption) -> None:
    """Create the data folder, the database (migrated) and a 0600 encryption key file."""
    with handle_errors(as_json):
        gallery = open_gallery(home, db_url, actor, create_key=True)
        with gallery:
            gallery.audit.record(actor=gallery.actor, action="init", details={"key_id": gallery.keys.active_id})
            admin = ensure_admin_key(gallery, actor=gallery.actor)
            info = {"home": str(gallery.home), **gallery.stats(),
                    "admin_key": admin.token if admin else None}
    if as_json:
        emit_json(info)
        return
    console.print(f"Sightline data folder [bold]{info['home']}[/]")
    console.print(f"database: {info['database']}")
    if info["key_source"] == "env":
        console.print(f"encryption key: from $SIGHTLINE_KEY (id {info['key_id']})")
    else:
        console.print(f"encryption key: {info['home']}/keys/{info['key_id']}.key (mode 0600) — back it up "
                      "separately from the database: without it the templates cannot be read")
    if admin:
        console.print(f"admin API key (shown once, store it now): [bold]{admin.token}[/]", highlight=False,
                      soft_wrap=True)


def identify(
    images: list[Path] = typer.Argument(..., help="Probe images."),
    k: int = typer.Option(3, "--top", "-k", min=1, help="Candidates per face."),
    threshold: float | None = typer.Option(None, help="Raise (or, down to a floor, lower) the calibrated threshold."),
    explain: bool = typer.Option(False, "--explain", help="Also show near-miss candidates (tuning aid; audited)."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    backend: str = BackendOption, models: Path | None = ModelsOption, index: str = IndexOption,
    as_json: bool = JsonOption,
) -> None:
    """Who is in each image? Per face: top candidates with scores, or 'unknown' below the threshold."""
    with handle_errors(as_json):
        gallery = open_gallery(home, db_url, actor, backend=backend, models=models, index=index)

    def work(path: Path) -> dict:
        # the CLI user holds the key file (an admin): may lower the threshold, never below the floor
        found = gallery.identify(path, k=k, threshold=threshold, allow_lower=True, explain=explain)
        if not as_json:
            _print_identifications(path, found, explain)
        return {"faces": [r.to_dict(explain=explain) for r in found]}

    with gallery:
        with handle_errors(as_json):
            used = gallery.matching.threshold_for(threshold, allow_lower=True)
        results, failures = process_images(images, work, as_json=as_json, empty={"faces": []})
    if as_json:
        if threshold is None:  # 1:N is judged at the open-set operating point: report the threshold the faces met
            used = max((f["threshold"] for r in results for f in r.get("faces") or []), default=used)
        emit_json({"backend": gallery.faces.backend, "threshold": used, "results": results})
    exit_if_failed(failures)


def _print_identifications(path: Path, found: list, explain: bool = False) -> None:
    table = Table(title=f"{path} — {len(found)} face(s)", title_justify="left")
    for column in ("#", "box", "decision", "score", "next candidates"):
        table.add_column(column)
    for number, result in enumerate(found):
        match = result.match
        decision = f"[green]{match.name}[/] ({match.subject_id[:8]})" if match else "[yellow]unknown[/]"
        shown = result.candidates if explain else [c for c in result.candidates if c.accepted]
        others = ", ".join(f"{c.name} {c.score:.3f}" for c in shown if c is not match)
        table.add_row(str(number), ", ".join(f"{v:.0f}" for v in result.face.box), decision,
                      f"{match.score:.3f}" if match else "-", others or "-")
    console.print(table)


# -- gallery group -------------------------------------------------------------------------------
def _retain_until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise LegalBasisError(f"--retain-until must be a date (YYYY-MM-DD) or ISO timestamp, got {value!r}") from None
    if isinstance(parsed, datetime):
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.combine(parsed, time(23, 59, 59), tzinfo=UTC)


@app.command()
def enroll(
    paths: list[Path] = typer.Argument(..., help="Image files and/or folders (searched recursively)."),
    name: str | None = typer.Option(None, "--name", help="Display name of a new subject."),
    legal_basis: str | None = typer.Option(
        None, "--legal-basis", help="Lawful basis: " + ", ".join(b.value for b in LegalBasis) + "."),
    purpose: str | None = typer.Option(None, "--purpose", help="Why this person is enrolled."),
    evidence: str | None = typer.Option(None, "--evidence", help="Reference to the evidence (e.g. consent form id)."),
    retention_days: int | None = typer.Option(None, "--retention-days", help="Erase after this many days."),
    retain_until: str | None = typer.Option(None, "--retain-until", help="Erase after this date (YYYY-MM-DD)."),
    enrolled_by: str | None = typer.Option(None, "--enrolled-by", help="Who enrols (default: the actor)."),
    subject: str | None = typer.Option(None, "--subject", help="Add templates to this existing subject instead."),
    store_images: bool = typer.Option(False, "--store-images", help="Keep the (encrypted) enrolment photos."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    backend: str = BackendOption, models: Path | None = ModelsOption, as_json: bool = JsonOption,
) -> None:
    """Enrol one person from photos; each accepted photo is saved (committed) before the next is read."""
    with handle_errors(as_json):
        gallery = open_gallery(home, db_url, actor, backend=backend, models=models, create_key=True)
        with gallery:
            created = False
            if subject is not None:
                subject_id = gallery.resolve(subject)
            else:
                record = gallery.create_subject(
                    name=name, legal_basis=legal_basis, purpose=purpose, evidence=evidence,
                    enrolled_by=enrolled_by or actor or default_actor(), retain_until=_retain_until(retain_until),
                    retention_days=retention_days)
                subject_id, created = str(record["id"]), True
                if not as_json:
                    console.print(f"subject {subject_id} created ({name}, {legal_basis})", highlight=False)

            def acknowledge(result: EnrolResult) -> None:
                if as_json:
                    return
                if result.accepted:  # plain, flushed line: printed only once the template is committed
                    typer.echo(f"enrolled {result.source} template {result.template_id}")
                    sys.stdout.flush()
                else:
                    err_console.print(f"[yellow]rejected[/] {result.source}: {result.reason} ({result.message})",
                                      highlight=False)

            results = enroll_files(gallery, subject_id, paths, store_images=store_images, progress=not as_json,
                                   console=err_console, on_result=acknowledge)
            accepted = sum(r.accepted for r in results)
            if created and not accepted:
                gallery.erase(subject_id, reason="enrolment_failed")
            payload = {"subject_id": subject_id, "created": created, "accepted": accepted,
                       "rejected": len(results) - accepted, "results": [r.to_dict() for r in results]}
            failure = None
            if not accepted:
                reasons = sorted({r.reason or "" for r in results})
                failure = QualityError(f"no usable face in any image ({', '.join(reasons)})"
                                       + ("; the new subject was removed again" if created else ""),
                                       code=reasons[0] if len(reasons) == 1 else "low_quality")
            if as_json:
                emit_json({**payload, "error": failure.to_dict() if failure else None})
                if failure:
                    raise typer.Exit(failure.exit_code)
                return
            console.print(f"{accepted} of {len(results)} image(s) enrolled for subject {subject_id}")
            if failure:
                raise failure


@app.command("list")
def list_subjects(home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
                  as_json: bool = JsonOption) -> None:
    """Enrolled subjects with legal basis, retention date and template count."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        subjects = gallery.list_subjects()
    if as_json:
        emit_json({"subjects": subjects})
        return
    table = Table(title=f"{len(subjects)} subject(s)", title_justify="left")
    for column in ("id", "name", "legal basis", "purpose", "retain until", "templates"):
        table.add_column(column)
    for s in subjects:
        table.add_row(str(s["id"]), str(s["name"]), str(s["legal_basis"]), str(s["purpose"]),
                      str(s["retain_until"])[:10], str(s["templates"]))
    console.print(table)


@app.command()
def show(subject: str = typer.Argument(..., help="Subject id, id prefix or exact name."),
         home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
         as_json: bool = JsonOption) -> None:
    """One subject's record and template metadata (never the templates themselves)."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        record = gallery.show(gallery.resolve(subject))
    if as_json:
        emit_json(record)
        return
    for key in ("id", "name", "legal_basis", "purpose", "evidence", "enrolled_by", "created_at", "retain_until"):
        console.print(f"[bold]{key}[/]: {record[key]}", highlight=False)
    for template in record["template_list"]:
        console.print(f"  template {template['id']}: {template['embedder']} {template['dim']}-D, quality "
                      f"{template['quality']:.2f}, from {template['source']}, {template['created_at'][:19]}",
                      highlight=False)


@app.command()
def erase(subject: str = typer.Argument(..., help="Subject id, id prefix or exact name."),
          reason: str = typer.Option("request", "--reason", help="Why (recorded in the audit log)."),
          yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
          home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
          as_json: bool = JsonOption) -> None:
    """Erase a subject: record, templates, images and index entries (the erasure itself is audited)."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        subject_id = gallery.resolve(subject)
        if not yes and not as_json and not typer.confirm(f"Erase subject {subject_id} and all their data?"):
            raise typer.Exit(1)
        report = gallery.erase(subject_id, reason=reason)
    if as_json:
        emit_json(report.to_dict())
    else:
        console.print(f"erased subject {report.subject_id}: {report.templates} template(s), "
                      f"{report.images} image(s)", highlight=False)


@app.command()
def export(subject: str = typer.Argument(..., help="Subject id, id prefix or exact name."),
           out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to write the bundle into."),
           include_templates: bool = typer.Option(False, "--include-templates",
                                                  help="Also write the decrypted embeddings."),
           home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
           as_json: bool = JsonOption) -> None:
    """Subject-access request: write everything held about a subject (JSON + images) to a folder."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        bundle = gallery.export(gallery.resolve(subject), out, include_templates=include_templates)
    if as_json:
        emit_json({"bundle": str(bundle), "files": sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*")
                                                          if p.is_file())})
    else:
        console.print(f"wrote {bundle}", highlight=False)


@app.command("not-this-person")
def not_this_person(
    subject: str = typer.Argument(..., help="Subject id, id prefix or exact name that was wrongly matched."),
    image: Path | None = typer.Argument(None, help="The photo in which the face was wrongly identified."),
    box: str | None = typer.Option(None, "--box", help="x1,y1,x2,y2 of the face (else the one most like them)."),
    event: str | None = typer.Option(None, "--event", help="A person_seen event id that named the wrong person."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    backend: str = BackendOption, models: Path | None = ModelsOption, as_json: bool = JsonOption,
) -> None:
    """Mark an identification as wrong: the face becomes an encrypted negative example of the subject."""
    with handle_errors(as_json):
        if (image is None) == (event is None):
            raise SightlineError("give either an IMAGE or --event", code="bad_request")
        coords = _parse_box(box)
        with open_gallery(home, db_url, actor, backend=backend, models=models) as gallery:
            subject_id = gallery.resolve(subject)
            if event is not None:
                result = gallery.corrections.mark_event_wrong(event, subject_id=subject_id)
            else:
                result = gallery.corrections.mark_not_subject(subject_id, image, box=coords, source="cli")
    if as_json:
        emit_json(result)
    else:
        console.print(f"recorded: the face at {result['box']} is not subject {subject_id} "
                      f"(negative {result['negative_id']})", highlight=False)


def _parse_box(box: str | None) -> list[float] | None:
    if box is None:
        return None
    try:
        values = [float(v) for v in box.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise SightlineError(f"--box must be x1,y1,x2,y2, got {box!r}", code="bad_request")
    return values


@app.command("threshold")
def subject_threshold(
    subject: str = typer.Argument(..., help="Subject id, id prefix or exact name."),
    value: float | None = typer.Argument(None, help="Own threshold (at least the calibrated one)."),
    clear: bool = typer.Option(False, "--clear", help="Back to the calibrated threshold."),
    home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
    backend: str = BackendOption, models: Path | None = ModelsOption, as_json: bool = JsonOption,
) -> None:
    """Give a subject their own, stricter match threshold (audited)."""
    with handle_errors(as_json):
        if (value is not None) != clear:
            with open_gallery(home, db_url, actor, backend=backend, models=models) as gallery:
                result = gallery.subjects.set_threshold(gallery.resolve(subject), value)
        else:
            raise SightlineError("give either a VALUE or --clear", code="bad_request")
    if as_json:
        emit_json(result)
    else:
        console.print(f"subject {result['subject_id']}: threshold {result['threshold'] or 'calibrated'} "
                      f"(was {result['previous'] or 'calibrated'}; calibrated {result['calibrated']})",
                      highlight=False)


@app.command()
def reembed(home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
            backend: str = BackendOption, models: Path | None = ModelsOption, as_json: bool = JsonOption) -> None:
    """After switching face backends: re-enrol every subject from their kept photos with this backend.

    Old templates stay (switching back needs no work); subjects with no kept photo are listed as needing new
    photos (enrol with --store-images to make future switches automatic)."""
    with handle_errors(as_json):
        with open_gallery(home, db_url, actor, backend=backend, models=models) as gallery:
            bar = Progress(TextColumn("re-embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=err_console, disable=as_json, transient=True)
            with bar:
                task = bar.add_task("photos", total=None)
                report = gallery.reembed(actor=actor, progress=lambda done, total: bar.update(task, completed=done,
                                                                                                 total=total))
        if as_json:
            emit_json(report.to_dict())
            return
        console.print(f"{report.reembedded} kept photo(s) embedded with {report.embedder}; "
                      f"{len(report.rejected)} rejected; {report.up_to_date} subject(s) already searchable")
        for item in report.needs_photos:
            err_console.print(f"[yellow]needs new photos[/] {item['subject_id']} {item['name']}: "
                              f"{item['templates_of_other_embedders']} template(s) of another embedder, "
                              "no usable kept photo", highlight=False)
