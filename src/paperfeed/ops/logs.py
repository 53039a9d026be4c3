"""Log output of `paperfeed serve`: one format for the server's own lines and the access log
(`PAPERFEED_LOG_FORMAT`: `text`, or `json` for log collectors, one object per line)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson

ACCESS_LOGGER = "paperfeed.access"
# The access log's fields (LogRecord attributes set through `extra`), in the order shown.
ACCESS_FIELDS = ("client", "method", "path", "status", "duration_ms")


def _time(record: logging.LogRecord) -> str:
    stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-06-14T09:30:00.123Z INFO paperfeed.access 127.0.0.1 GET /search 200 12.3ms`"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the access fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration (uvicorn's `log_config`, applied in every
    server process): everything on standard error in one format. uvicorn's own access log is
    off; the app writes its own (`paperfeed.http.access_log`)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "paperfeed": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
