"""OpenAPI helpers shared by every blueprint, and what the document promises a client
generator (`openapi-python-client`, `@redocly/cli lint`; see docs/api.md).

The `ClientContract` plugin fills in, for every operation, what a route need not repeat: a
stable `operationId` (the view's name, camelCased), its security (bearer for views guarded
by `require_roles`, none for public ones, unless the route says), a 4XX response, and the
stable `reason` values of each error response as an enum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from apispec import APISpec, BasePlugin
from flask import Flask
from flask_smorest import Blueprint

F = TypeVar("F", bound=Callable[..., Any])

#: The body of a binary (or otherwise opaque) response: images, PDF, zip.
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
#: Public, but an order's token may come as a Bearer token instead of ?token=, as may staff's.
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]

#: Reasons any operation may answer with a status (the request shell's own, app/errors.py).
GENERIC_REASONS: dict[int, tuple[str, ...]] = {
    400: ("bad_request",),
    401: ("unauthorized",),
    403: ("forbidden",),
    404: ("not_found",),
    409: ("conflict", "illegal_transition"),
    412: ("precondition_failed",),
    413: ("too_large",),
    415: ("unsupported_media_type",),
    416: ("error",),
    422: ("invalid", "unknown_language"),
    428: ("precondition_required",),
    429: ("rate_limited",),
    503: ("unavailable",),
}
_ERROR_REF = "#/components/responses/DEFAULT_ERROR"


def error_responses(
    blp: Blueprint, *statuses: int, reasons: Mapping[int, Iterable[str]] | None = None
) -> Callable[[F], F]:
    """Document that a view can answer these statuses, each in the one error shape, with the
    `reason` values it may carry beyond the generic ones (`reasons={409: ("sold_out",)}`)."""

    def decorator(view: F) -> F:
        for status in statuses:
            view = blp.alt_response(status, response="DEFAULT_ERROR")(view)
        known: dict[int, tuple[str, ...]] = dict(getattr(view, "error_reasons", {}))
        for status, values in (reasons or {}).items():
            known[status] = (*known.get(status, ()), *values)
        view.error_reasons = known  # type: ignore[attr-defined]
        return view

    return decorator


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _error_response(description: str, reasons: list[str]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["code", "status", "message", "reason", "errors"],
                    "properties": {
                        "code": {"type": "integer", "description": "HTTP status code"},
                        "status": {"type": "string", "description": "HTTP status phrase"},
                        "message": {"type": "string", "description": "What went wrong"},
                        "reason": {
                            "type": "string",
                            "enum": reasons,
                            "description": "Stable machine-readable reason",
                        },
                        "errors": {
                            "type": "object",
                            "additionalProperties": True,
                            "description": "Field name -> messages",
                        },
                    },
                }
            }
        },
    }


class ClientContract(BasePlugin):
    """Completes each operation for clients and their generators (see the module's doc)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.operation_ids: dict[str, str] = {}

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method, operation in operations.items():
            handler = getattr(view_class, method) if view_class is not None else view
            name = rule.endpoint.rsplit(".", 1)[-1]
            if view_class is not None:
                name = f"{method}_{re.sub(r'View$', '', name)}"
            operation_id = operation.setdefault("operationId", _camel(name))
            if operation_id in self.operation_ids:
                taken = self.operation_ids[operation_id]
                raise ValueError(f"operationId {operation_id} of {rule.rule} is {taken}'s")
            self.operation_ids[operation_id] = rule.rule
            if "security" not in operation:
                guarded = getattr(handler, "required_roles", None)
                operation["security"] = [{"bearerAuth": []}] if guarded else []
            self._complete_errors(operation, getattr(handler, "error_reasons", {}))

    @staticmethod
    def _complete_errors(operation: dict[str, Any], extra: Mapping[int, Iterable[str]]) -> None:
        responses: dict[str, Any] = operation.setdefault("responses", {})
        if not any(str(code).startswith("4") for code in responses):
            responses["4XX"] = {"$ref": _ERROR_REF}
        for code, response in list(responses.items()):
            # flask-smorest names the shared error response; apispec resolves it later.
            shared = response in ("DEFAULT_ERROR", {"$ref": _ERROR_REF})
            if not str(code).isdigit() or not shared:
                continue
            status = int(code)
            reasons = [*GENERIC_REASONS.get(status, ("error",)), *extra.get(status, ())]
            responses[code] = _error_response(
                f"Error {status}; `reason` says which", list(dict.fromkeys(reasons))
            )


def document_contract(app: Flask, spec: APISpec) -> None:
    """The document-wide parts: servers, default security, licence; drop what no operation
    uses. Called once every blueprint is registered."""
    spec.options["servers"] = [
        {"url": str(app.config["PUBLIC_BASE_URL"]).rstrip("/"), "description": "This server"}
    ]
    spec.options["security"] = [{"bearerAuth": []}]
    spec.options["info"] = {
        "description": "The Hội An heritage guide service: catalogue, audio guides, tickets, "
        "payments. Conventions, errors and client generation: docs/api.md.",
        "license": {
            "name": "GPL-3.0-or-later",
            "url": "https://www.gnu.org/licenses/gpl-3.0.html",
        },
    }
    # flask-smorest registers it for @blp.paginate, which no view uses (pages are in the body).
    spec.components.schemas.pop("PaginationMetadata", None)
