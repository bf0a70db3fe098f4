"""OpenAPI helpers shared by every blueprint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Blueprint

F = TypeVar("F", bound=Callable[..., Any])


def error_responses(blp: Blueprint, *statuses: int) -> Callable[[F], F]:
    """Document that a view can answer these statuses, each in the one error shape."""

    def decorator(view: F) -> F:
        for status in statuses:
            view = blp.alt_response(status, response="DEFAULT_ERROR")(view)
        return view

    return decorator
