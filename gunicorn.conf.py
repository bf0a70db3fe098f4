"""gunicorn settings for the web process; every value can be overridden by the environment."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are replaced after this many requests (a guard against slow leaks). At 10,000 a
# worker serving cached catalogue reads was replaced every few seconds under load, and each
# replacement (a cold response cache, new connections) put about a second into the p99.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
preload_app = True
accesslog = None
errorlog = "-"
