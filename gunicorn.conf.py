"""gunicorn settings for the web process; every value can be overridden by the environment."""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are not replaced after a number of requests unless GUNICORN_MAX_REQUESTS says so.
# Each replacement put a second of slow answers into the tail: the new worker's response cache
# is cold, its connections are new, and its first garbage collections walk (and so copy) every
# page it shares with the master. At 20,000 the catalogue's p99 was 106-180 ms against 50 ms
# with none (benchmarks/README.md, issue #18); at 200,000 a worker was still replaced every
# 80 s under full load.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
preload_app = True
accesslog = None
errorlog = "-"


def when_ready(server: object) -> None:
    """Freeze what the preloaded app made before the workers are forked: the collector then
    never walks those objects in a worker, so its collections stay short and do not copy the
    pages every worker shares with the master (the Python docs' advice for fork servers)."""
    gc.collect()
    gc.freeze()
