"""Log lines: plain text or one JSON object per line, with the request id when there is one.

`configure_logging(settings)` installs one handler on the root logger, for every process
the CLI starts (`serve`, `worker`); uvicorn's loggers go through it too. A request's id
lives in `REQUEST_ID` (a context variable set by the HTTP layer for the request's task;
the worker threads the handlers run the ledger in inherit it), and `RequestIdFilter` puts
it on every record. A JSON line holds `time`, `level`, `logger`, `message`, `request_id`
(when set), the record's `extra` fields, and `exception` when there is one.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from entrypoints.settings import LogSettings

REQUEST_ID: ContextVar[str | None] = ContextVar("payledger_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Attributes every LogRecord has: anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` from `REQUEST_ID` (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of `PAYLEDGER_LOG_FORMAT`: `json` or `text`."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: LogSettings, stream: Any = None) -> logging.Handler:
    """Send every log record (at `settings.level` and above) to stderr (or `stream`) in
    the configured format; replaces the root logger's handlers. Returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter_for(settings.format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    return handler
