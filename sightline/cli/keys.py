"""``sightline keys create|list|revoke``: API keys for the server (stored hashed, each with a role)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sightline.api.keys_store import KeyStore, parse_role
from sightline.cli.gallery import open_gallery
from sightline.cli.options import ActorOption, DbOption, HomeOption, JsonOption
from sightline.cli.output import console, emit_json, handle_errors
from sightline.gallery.gallery import default_actor

app = typer.Typer(help="API keys for `sightline serve`: admin, operator, viewer or terminal (checkout only).",
                  no_args_is_help=True)



@app.command()
def create(role: str = typer.Option(..., "--role", help="admin, operator, viewer or terminal (checkout only)."),
           name: str | None = typer.Option(None, "--name", help="Label shown in the audit log (default: the role)."),
           home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
           as_json: bool = JsonOption) -> None:
    """Create a key and print its token ONCE (only a sha256 digest is stored)."""
    actor = actor or default_actor()
    with handle_errors(as_json), open_gallery(home, db_url, create_key=True) as gallery:
        role_value = parse_role(role)
        new = KeyStore(gallery.sessions).create(name or role_value.value, role_value, created_by=actor)
        gallery.audit.record(actor=actor, action="keys.create", details={"key_id": new.key.id,
                                                                         "role": role_value.value})
    if as_json:
        emit_json(new.to_dict())
        return
    console.print(f"created {new.key.role} key [bold]{new.key.id}[/] ({new.key.name}); token (shown once):",
                  highlight=False)
    console.print(new.token, highlight=False, soft_wrap=True)


@app.command("list")
def list_keys(home: Path | None = HomeOption, db_url: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Every key with role, creation and last use (tokens cannot be shown again)."""
    with handle_errors(as_json), open_gallery(home, db_url, create_key=True) as gallery:
        keys = [k.to_dict() for k in KeyStore(gallery.sessions).list()]
    if as_json:
        emit_json({"keys": keys})
        return
    table = Table(title=f"{len(keys)} key(s)", title_justify="left")
    for column in ("id", "name", "role", "created", "last used", "status"):
        table.add_column(column)
    for k in keys:
        table.add_row(str(k["id"]), str(k["name"]), str(k["role"]), str(k["created_at"]), str(k["last_used_at"] or "-"),
                      "active" if k["active"] else f"revoked {k['revoked_at']}")
    console.print(table)


@app.command()
def revoke(key_id: str = typer.Argument(..., help="Key id (12 hex digits, from `keys list`)."),
           home: Path | None = HomeOption, db_url: str | None = DbOption, actor: str | None = ActorOption,
           as_json: bool = JsonOption) -> None:
    """Revoke a key at once; it stays listed (revoked) for the audit trail."""
    actor = actor or default_actor()
    with handle_errors(as_json), open_gallery(home, db_url, create_key=True) as gallery:
        row = KeyStore(gallery.sessions).revoke(key_id)
        gallery.audit.record(actor=actor, action="keys.revoke", details={"key_id": key_id})
    if as_json:
        emit_json(row.to_dict())
    else:
        console.print(f"revoked key {row.id} ({row.name}, {row.role})", highlight=False)
