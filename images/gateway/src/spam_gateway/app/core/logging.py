"""Structured logs: structlog (``spam_core.logs``) plus stdlib loggers (uvicorn, httpx, azure)
routed through it, so every line is one JSON object with the correlation id when known."""

from __future__ import annotations

import logging

import structlog

from spam_core.logs import configure_logging as configure_structlog

QUIET = ("httpx", "httpcore", "azure", "azure.core.pipeline.policies.http_logging_policy")


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            logger = structlog.get_logger(record.name)
            logger.log(
                record.levelno,
                record.getMessage(),
                logger=record.name,
                exc_info=record.exc_info if record.exc_info else None,
            )
        except Exception:  # pragma: no cover - never let logging break a request
            self.handleError(record)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    configure_structlog(level, fmt)
    root = logging.getLogger()
    root.handlers[:] = [_ToStructlog()]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # the gateway writes its own access log (with route, environment, model version)
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
