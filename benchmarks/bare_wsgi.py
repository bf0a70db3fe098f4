"""The baseline of the catalogue benchmark: a bare WSGI app that answers a small JSON body.

No framework, no routing, no hooks, no database: what gunicorn itself costs per request on
this machine. `benchmarks/catalogue.py` serves it with the same gunicorn config, workers and
threads as `wsgi:app` (`gunicorn --config gunicorn.conf.py benchmarks.bare_wsgi:app`), so the
ratio of the two throughputs is the price of the application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status":"ok","service":"hoian-guide"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer every request with the same small JSON body."""
    start_response("200 OK", HEADERS)
    return [BODY]
