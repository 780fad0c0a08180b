"""``sightline privacy sweep|rotate-key``: retention enforcement and key rotation."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, HomeOption, JsonOption
from sightline.cli.output import console, emit_json, handle_errors
from sightline.errors import SightlineError
from sightline.privacy.crypto import KEY_ENV, decode_key
from sightline.privacy.retention import sweep as run_sweep

app = typer.Typer(help="Retention sweep and encryption-key rotation.", no_args_is_help=True)

NEW_KEY_ENV = "SIGHTLINE_NEW_KEY"


@app.command()
def sweep(dry_run: bool = typer.Option(False, "--dry-run", help="Only list who would be erased."),
          now: str | None = typer.Option(None, "--now", help="Pretend it is this ISO time (for checks)."),
          home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
          as_json: bool = JsonOption) -> None:
    """Erase every subject whose retention date has passed (each erasure is audited)."""
    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        when = None
        if now is not None:
            try:
                when = datetime.fromisoformat(now)
            except ValueError:
                raise SightlineError(f"--now must be an ISO date or time, got {now!r}", code="bad_request") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        report = run_sweep(gallery, now=when, actor=actor or "retention-sweep", dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
    else:
        verb = "would erase" if dry_run else "erased"
        console.print(f"{verb} {len(report.erased)} subject(s) past retention"
                      + (": " + ", ".join(report.erased) if report.erased else ""), highlight=False)


@app.command("rotate-key")
def rotate_key(home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
               as_json: bool = JsonOption) -> None:
    """Re-encrypt every template and image under a new key, then destroy the old key file (and the same for the
    camera-secrets key of cameras added from the UI).

    With the key in $SIGHTLINE_KEY, put the new key (32 bytes, base64) in $SIGHTLINE_NEW_KEY and
    switch $SIGHTLINE_KEY to it afterwards.
    """
    from sightline.jobs.camera_store import CameraSecrets

    with handle_errors(as_json), open_gallery(home, db_url, actor) as gallery:
        new_key = os.environ.get(NEW_KEY_ENV)
        report = gallery.rotate_key(new_key=decode_key(new_key, origin=f"${NEW_KEY_ENV}") if new_key else None)
        cameras = CameraSecrets(gallery.home).rotate(gallery.sessions, gallery.audit,
                                                     actor=actor or gallery.ctx.actor)
    if as_json:
        emit_json({**report.to_dict(), "camera_urls": cameras})
        return
    console.print(f"re-encrypted {report.templates} template(s) and {report.images} image(s) under key "
                  f"{report.new_key}; retired {', '.join(report.old_keys) or 'nothing'}", highlight=False)
    if cameras["rotated"]:
        console.print(f"re-sealed {cameras['cameras']} camera URL(s) under a new camera-secrets key"
                      + (f"; unreadable, left as they were: {', '.join(cameras['unreadable'])}"
                         if cameras["unreadable"] else ""), highlight=False)
    if gallery.keys.from_env:
        console.print(f"now set ${KEY_ENV} to the value of ${NEW_KEY_ENV}")
