"""``sightline audit verify|checkpoint|tail``: check, checkpoint and read the keyed, hash-chained audit log."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, HomeOption, JsonOption
from sightline.cli.output import console, emit_json, err_console, handle_errors
from sightline.errors import SightlineError
from sightline.privacy.audit import entry_to_dict, write_checkpoint

app = typer.Typer(help="Check and read the tamper-evident audit log.", no_args_is_help=True)

CHAIN_BROKEN_EXIT = 12


def _parse_head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise SightlineError("--expect-head must be SEQ:SHA256 as printed by a previous `audit verify`",
                             code="bad_request")
    return int(seq), digest


@app.command()
def verify(expect_head: str | None = typer.Option(None, "--expect-head",
                                                  help="SEQ:HASH recorded earlier; also catches removed tail rows."),
           home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
           as_json: bool = JsonOption) -> None:
    """Recompute the chain; exit 12 and name the first bad row if anything was edited, inserted or deleted."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        report = gallery.audit.verify(expect_head=_parse_head(expect_head))
    if as_json:
        emit_json(report.to_dict())
    elif report.ok:
        checkpoint = report.checkpoint
        against = (f"; matches the newest checkpoint (seq {checkpoint['seq']}, {checkpoint['time']})" if checkpoint
                   else "; no checkpoint yet (run `sightline audit checkpoint`)")
        console.print(f"[green]audit chain intact[/]: {report.rows} row(s), head {report.head_seq}:{report.head_hash}"
                      + (f", keyed from seq {report.keyed_from}" if report.keyed_from else ", not keyed") + against,
                      highlight=False)
    else:
        err_console.print(f"[bold red]audit chain broken[/] at seq {report.first_bad_seq}: {report.reason}",
                          highlight=False)
    if not report.ok:
        raise typer.Exit(CHAIN_BROKEN_EXIT)


@app.command()
def checkpoint(home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
               as_json: bool = JsonOption) -> None:
    """Sign the chain's head (seq, hash, time) and append it to $SIGHTLINE_HOME/audit/checkpoints.jsonl."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        written = write_checkpoint(gallery.audit)
        path = gallery.audit.checkpoints.path if gallery.audit.checkpoints else None
    if as_json:
        emit_json({"checkpoint": written.to_dict() if written else None, "file": str(path) if path else None})
    elif written is None:
        console.print("the audit chain is empty: nothing to checkpoint")
    else:
        console.print(f"checkpoint seq {written.seq} head {written.head} at {written.time} -> {path}", highlight=False)


@app.command()
def tail(n: int = typer.Option(20, "-n", min=1, help="How many rows."),
         subject: str | None = typer.Option(None, "--subject", help="Only rows about this subject id."),
         home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
         as_json: bool = JsonOption) -> None:
    """The most recent audit rows, oldest first."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        rows = [entry_to_dict(e) for e in gallery.audit.tail(n, subject_id=subject)]
    if as_json:
        emit_json({"entries": rows})
        return
    table = Table(title=f"last {len(rows)} audit row(s)", title_justify="left")
    for column in ("seq", "time (UTC)", "actor", "action", "subject", "outcome", "details"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["seq"]), str(row["ts"])[:19], str(row["actor"]), str(row["action"]),
                      str(row["subject_id"] or "-")[:8], str(row["outcome"]), str(row["details"]))
    console.print(table)
