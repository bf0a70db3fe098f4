"""The shared Redis connection, when REDIS_URL is configured."""

from __future__ import annotations

from flask import current_app
from redis import Redis


def get_redis() -> Redis:
    """One client per app (redis-py pools connections itself)."""
    client = current_app.extensions.get("hoian_redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2)
        current_app.extensions["hoian_redis"] = client
    return client
