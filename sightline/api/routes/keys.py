"""``/api/v1/keys``: create, list and revoke API keys (admin); ``/keys/me`` tells a key its own role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sightline.api.auth import Admin, Viewer
from sightline.api.deps import AppState, get_state
from sightline.api.errors import ApiError
from sightline.api.keys_store import ApiKey, Role
from sightline.gallery.names import bad_character

router = APIRouter(prefix="/keys", tags=["keys"])

KeyId = Path(..., pattern=r"^[0-9a-f]{12}$", description="key id (12 hex digits)")


class KeyCreate(BaseModel):
    """A new key's name and role."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    role: Role

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        problem = bad_character(value)
        if problem:
            raise ValueError(f"the key name contains {problem}; control characters, newlines and bidirectional "
                             "overrides are not allowed")
        return value


@router.get("/me", summary="The calling key: id, name, role")
def whoami(key: ApiKey = Viewer, state: AppState = Depends(get_state)) -> dict[str, Any]:
    state.audit_event(key, "auth.login")
    return key.to_dict()


@router.get("", summary="Every key (digests never leave the server)")
def list_keys(key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict[str, Any]:
    keys = [k.to_dict() for k in state.keys.list()]
    state.audit_event(key, "keys.list")
    return {"items": keys}


@router.post("", status_code=201, summary="Create a key; its token is returned once")
def create_key(body: KeyCreate, key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict[str, Any]:
    new = state.keys.create(body.name, body.role, created_by=key.actor)
    state.audit_event(key, "keys.create", details={"key_id": new.key.id, "role": new.key.role})
    return new.to_dict()


@router.delete("/{key_id}", summary="Revoke a key (kept, marked revoked)")
def revoke_key(key_id: str = KeyId, key: ApiKey = Admin, state: AppState = Depends(get_state)) -> dict[str, Any]:
    if key_id == key.id and sum(1 for k in state.keys.list(include_revoked=False) if k.role == "admin") <= 1:
        raise ApiError(409, "last_admin", "refusing to revoke the last active admin key (create another first)")
    revoked = state.keys.revoke(key_id)
    state.audit_event(key, "keys.revoke", details={"key_id": key_id})
    return revoked.to_dict()
