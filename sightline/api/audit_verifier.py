"""Audit-chain verification for the server, each in a separate lowest-priority process.

Walking a long chain is pure-Python work (one HMAC per row). On the server's own threads it would
compete with recognition for the interpreter lock; in a process of its own, started at ``nice 19``
before it imports anything, it reads its own snapshot of the database and gets the CPU only when
identify and enrol leave it idle. The caller bounds how many run at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from sightline.errors import KeyMaterialError, SightlineError, StoreError
from sightline.privacy.audit import AuditLog

NICE_INCREMENT = 19  # the lowest priority
_BOOT = (f"import os, sys; os.nice({NICE_INCREMENT}); "
         "from sightline.privacy.audit_worker import main; sys.exit(main(sys.argv[1:]))")


class AuditVerifier:
    """Runs :meth:`AuditLog.verify` for one audit log in a child process per call."""

    def __init__(self, audit: AuditLog) -> None:
        bind = getattr(audit.sessions, "write_bind", None) or audit.sessions.kw["bind"]
        self._db_url = bind.url.render_as_string(hide_password=False)
        self._home = str(audit.home) if audit.home is not None else ""

    async def verify(self) -> dict[str, Any]:
        """The chain report (:meth:`ChainReport.to_dict`); the child is killed if the request is cancelled."""
        env = {**os.environ, "SIGHTLINE_DB_URL": self._db_url}
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _BOOT, self._home, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await proc.communicate()
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        try:
            answer = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise StoreError(f"audit verification failed: {err.decode('utf-8', 'replace').strip()[-500:]}") from None
        if "error" in answer:
            kind = {KeyMaterialError.code: KeyMaterialError, StoreError.code: StoreError}.get(answer["error"]["code"])
            if kind is not None:
                raise kind(answer["error"]["message"])
            raise SightlineError(answer["error"]["message"], code=answer["error"]["code"])
        return answer
