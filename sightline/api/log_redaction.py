"""Keep personal data out of the server's logs: query values in access-log lines are redacted.

A search such as ``GET /api/v1/subjects?q=Ana+Ruiz`` would otherwise write a person's name into
uvicorn's access log (and from there into journald, docker logs, log shippers). Only parameters known
to carry no personal data keep their values; every other value becomes ``[redacted]``.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote

# Query parameters whose values never identify anyone: paging, time windows, enum-like filters.
SAFE_QUERY_PARAMS = frozenset({"limit", "offset", "since", "until", "action", "outcome", "camera", "label",
                               "type", "facets", "include_templates", "names", "k", "role"})
REDACTED = "[redacted]"
ACCESS_LOGGERS = ("uvicorn.access",)


def redact_query(target: str) -> str:
    """``target`` (a path with an optional query string) with every non-allowlisted query value redacted."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs and query:
        return f"{path}?{REDACTED}"
    parts = [f"{quote(key, safe='')}={quote(value, safe='') if key in SAFE_QUERY_PARAMS else REDACTED}"
             for key, value in pairs]
    return f"{path}?{'&'.join(parts)}"


class QueryRedactingFilter(logging.Filter):
    """Rewrites the request target of uvicorn access-log records (``args[2]``) before they are formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to the access loggers (idempotent; call once uvicorn configured logging)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryRedactingFilter) for f in logger.filters):
            logger.addFilter(QueryRedactingFilter())
