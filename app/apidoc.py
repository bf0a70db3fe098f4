"""OpenAPI helpers shared by every blueprint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask_smorest import Api, Blueprint
from marshmallow import fields

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


def document_served_languages(api: Api, languages: list[str]) -> None:
    """List this install's languages as the enum of every ServedLanguage field."""

    def served_language_enum(
        converter: Any, field: fields.Field[Any], **kwargs: Any
    ) -> dict[str, Any]:
        return {"enum": list(languages)} if isinstance(field, ServedLanguage) else {}

    api.ma_plugin.converter.add_attribute_function(served_language_enum)
