"""Structured logging: JSON lines with the request id of the request being served."""

from __future__ import annotations

import logging
import random
import re
import time
from urllib.parse import parse_qsl, quote

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("hoian.access")


#: Query parameters that are credentials (an order's access token), compared in lower case.
SECRET_PARAMS = frozenset({"token", "access_token"})


def redact(path: str, query: str) -> str:
    """The path and query for logs, secrets blanked out.

    The query is decoded first, as Flask decodes it: `?%74oken=` is the `token` parameter.
    """
    if not query:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = "&".join(
        f"{quote(name, safe='')}="
        + ("[redacted]" if name.lower() in SECRET_PARAMS else quote(value, safe=",:"))
        for name, value in pairs
    )
    return f"{path}?{shown}"


def new_request_id() -> str:
    """16 hex digits; request ids need to be unique, not unguessable (and no syscall)."""
    return f"{random.getrandbits(64):016x}"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    """Install one handler on the root logger (idempotent across create_app calls)."""
    root = logging.getLogger()
    root.setLevel(app.config["LOG_LEVEL"])
    for handler in list(root.handlers):
        if getattr(handler, "_hoian", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._hoian = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_JSON"]:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root.addHandler(handler)

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else new_request_id()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        if access_log.isEnabledFor(logging.INFO):
            elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                redact(request.path, request.query_string.decode("latin-1")),
                response.status_code,
                elapsed_ms,
            )
        return response
