"""OpenAPI helpers shared by every blueprint."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask_smorest import Api, Blueprint
from marshmallow import fields, validate
from werkzeug.routing import BaseConverter, UnicodeConverter

from app.schemas import PatchSchema, ServedLanguage

F = TypeVar("F", bound=Callable[..., Any])


def error_responses(blp: Blueprint, *statuses: int) -> Callable[[F], F]:
    """Document that a view can answer these statuses, each in the one error shape."""

    def decorator(view: F) -> F:
        for status in statuses:
            view = blp.alt_response(status, response="DEFAULT_ERROR")(view)
        return view

    return decorator


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
