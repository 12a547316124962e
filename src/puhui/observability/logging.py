"""Structured JSON logs (结构化日志): one JSON object per line, stamped with the work id.

``configure_logging`` installs one handler on the ``puhui`` logger (and, optionally, the root)
whose formatter writes JSON and whose filter redacts identity and phone numbers from the
message, the arguments, extra fields and exception text, so personal data never reaches a log
file or a log shipper whatever a component passes in.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from puhui.observability.context import current_work_id
from puhui.observability.redaction import redact_text, redact_value

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
) | {"message", "asctime", "work_id"}
_HANDLER_NAME = "puhui-json"


class RedactingFilter(logging.Filter):
    """Rewrites a record so its message, arguments and extras hold no personal data.

    The message is rendered with its arguments first (redacting the arguments alone would
    miss a number split across them) and the arguments dropped; exception text is rendered
    and redacted here too, because formatters print tracebacks verbatim.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRIBUTES:
                record.__dict__[key] = redact_value(value)
        return True


class WorkIdFilter(logging.Filter):
    """Stamps each record with the current work id (request or job run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.work_id = current_work_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, work id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "work_id": getattr(record, "work_id", None) or current_work_id(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = redact_text(self.formatException(record.exc_info))
        elif record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing redacted JSON lines with the work id."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(WorkIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(
    level: str = "INFO", *, stream: IO[str] | None = None, root: bool = False
) -> logging.Handler:
    """Send ``puhui`` logs (and the root logger's with ``root``) as JSON to ``stream``.

    Idempotent: a handler installed earlier by this function is replaced, not duplicated.
    """
    logger = logging.getLogger() if root else logging.getLogger("puhui")
    for existing in list(logger.handlers):
        if existing.get_name() == _HANDLER_NAME:
            logger.removeHandler(existing)
    handler = json_handler(stream)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    return handler
