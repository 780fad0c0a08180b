"""Verify an audit chain in a process of its own: ``python -c`` bootstrap from :mod:`sightline.api.audit_verifier`.

Reads the database URL from ``$SIGHTLINE_DB_URL`` (never the command line, which other users can
see) and the data home from its argument; prints :meth:`ChainReport.to_dict` as JSON. The
bootstrap lowers the process's CPU priority before anything is imported.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Verify and print the report (exit 0), or print an error object (exit 1)."""
    from sightline.errors import SightlineError
    from sightline.privacy.audit import AuditLog
    from sightline.store.db import create_db_engine, session_factory

    home = Path(argv[0]) if argv and argv[0] else None
    try:
        engine = create_db_engine(os.environ["SIGHTLINE_DB_URL"])
        try:
            report = AuditLog(session_factory(engine), home, start_keyed=False).verify()
        finally:
            engine.dispose()
    except SightlineError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
        return 1
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
