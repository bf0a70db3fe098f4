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
from flask_smorest import Api, Blueprint
from marshmallow import fields, validate
from werkzeug.routing import BaseConverter, UnicodeConverter

from app.schemas import PatchSchema, ServedLanguage

F = TypeVar("F", bound=Callable[..., Any])

#: The body of a binary (or otherwise opaque) response: images, PDF, zip.
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
#: Public, but an order's token may come as a Bearer token instead of ?token=, as may staff's.
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]

#: Reasons any operation may answer with a status (the request shell's own, app/errors.py).
GENERIC_REASONS: dict[int, tuple[str, ...]] = {
    400: ("bad_request", "too_deep"),
    # A refused bearer token says why (app/auth/services.py token_refusal).
    401: ("unauthorized", "unknown_token", "device_revoked", "token_revoked", "token_expired"),
    403: ("forbidden",),
    404: ("not_found",),
    409: ("conflict", "illegal_transition"),
    412: ("precondition_failed",),
    413: ("too_large",),
    415: ("unsupported_media_type",),
    416: ("error",),
    422: ("invalid", "unknown_language", "nul_character"),
    428: ("precondition_required",),
    429: ("rate_limited",),
    503: ("unavailable", "database_unavailable", "database_busy"),
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


class SchemaRulesPlugin(BasePlugin):  # type: ignore[misc]
    """Puts in a schema's component what its validators enforce beyond its fields."""

    def schema_helper(self, name: str, definition: Any, **kwargs: Any) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        cls = schema if isinstance(schema, type) else type(schema)
        if isinstance(cls, type) and issubclass(cls, PatchSchema):
            return {"minProperties": 1}
        return None


#: Every string the API takes refuses NUL (app/guards.py); the document says so.
NO_NUL = {"pattern": "^[^\\u0000]*$"}
_FORMATTED = (fields.Email, fields.DateTime, fields.Date, fields.Time, fields.UUID, fields.URL)


def _no_nul(converter: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
    if not isinstance(field, fields.String) or isinstance(field, (*_FORMATTED, ServedLanguage)):
        return {}
    if any(isinstance(rule, validate.Regexp | validate.OneOf) for rule in field.validators):
        return {}  # its pattern or its enum already says which characters
    return dict(NO_NUL)


def _path_string(converter: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **NO_NUL}
    bounds = re.findall(r"{([^}]*)}", converter.regex)
    if bounds:  # string(minlength=..., maxlength=...)
        low, _, high = bounds[0].partition(",")
        schema["minLength"] = int(low)
        if high or not _:
            schema["maxLength"] = int(high or low)
    return schema


def document_input_rules(api: Api, languages: list[str]) -> None:
    """Say in the OpenAPI document what the guards and fields refuse: this install's languages
    as the enum of every ServedLanguage, and no NUL in any string or path segment."""

    def served_language_enum(
        converter: Any, field: fields.Field[Any], **kwargs: Any
    ) -> dict[str, Any]:
        return {"enum": list(languages)} if isinstance(field, ServedLanguage) else {}

    def by_language(converter: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
        # A dict keyed by language (texts, addresses): an object with one property per served
        # language and no other, which OpenAPI 3.0 can say (it cannot constrain keys).
        if not (isinstance(field, fields.Dict) and isinstance(field.key_field, ServedLanguage)):
            return {}
        value = kwargs["ret"].get("additionalProperties", {})
        return {"properties": dict.fromkeys(languages, value), "additionalProperties": False}

    api.ma_plugin.converter.add_attribute_function(served_language_enum)
    api.ma_plugin.converter.add_attribute_function(by_language)
    api.ma_plugin.converter.add_attribute_function(_no_nul)
    api.register_converter(BaseConverter, _path_string)
    api.register_converter(UnicodeConverter, _path_string)
