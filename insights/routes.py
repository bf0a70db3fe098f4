"""Anonymous listening events and feedback from tourists; reports for managers and finance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import Response, current_app, request
from flask_smorest import Blueprint

from app.apidoc import error_responses
from app.auth.access import BEARER, public_write, require_roles
from app.db import utcnow
from app.errors import DomainError
from app.i18n import supported_languages
from app.ratelimit import rate_limited
from insights import events, exports, feedback, reports
from insights.schemas import (
    EventBatchAnswerSchema,
    EventBatchSchema,
    FeedbackAnswerSchema,
    FeedbackSchema,
    ReportArgsSchema,
    ReportSchema,
)

blp = Blueprint(
    "insights",
    __name__,
    url_prefix="/api/v1",
    description="Listening events and feedback from tourists; reports for managers and finance",
)

F = TypeVar("F", bound=Callable[..., Any])


class BodyTooLarge(DomainError):
    status, reason = 413, "too_large"


class LengthRequired(DomainError):
    status, reason = 411, "length_required"
    default_message = "send the body with a Content-Length"


def body_at_most(config_key: str) -> Callable[[F], F]:
    """Refuse a body larger than the limit named by `config_key` before it is read."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limit = int(current_app.config[config_key])
            if request.content_length is None:
                raise LengthRequired()
            if request.content_length > limit:
                raise BodyTooLarge(f"the body is larger than {limit // 1024} KiB")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


@blp.route("/events", methods=["POST"])
@public_write
@rate_limited("EVENTS_RATE_LIMIT")
@body_at_most("EVENTS_MAX_BYTES")
@blp.arguments(EventBatchSchema)
@blp.response(202, EventBatchAnswerSchema)
@error_responses(
    blp, 411, 413, 422, 429, reasons={422: ("unknown_site_or_language",), 429: ("rate_limited",)}
)
def post_events(body: dict[str, Any]) -> dict[str, Any]:
    """A batch of anonymous listening events (no cookie, no address kept); ids count once."""
    result = events.record_batch(
        events=body["events"], languages=supported_languages(), now=utcnow()
    )
    return {"received": result.received, "stored": result.stored}


@blp.route("/feedback", methods=["POST"])
@public_write
@rate_limited("FEEDBACK_RATE_LIMIT")
@body_at_most("EVENTS_MAX_BYTES")
@blp.arguments(FeedbackSchema)
@blp.response(202, FeedbackAnswerSchema)
@error_responses(blp, 411, 413, 422, 429, reasons={422: ("unknown_site", "rating_required")})
def post_feedback(body: dict[str, Any]) -> dict[str, Any]:
    """A tourist's rating, topic and comment; comments with links wait for a person. A
    translation error may quote the guide's sentence (then no rating is needed): it reaches
    the review queue of the site and the guide's language."""
    if body["website"]:
        # The field people never see was filled: a robot. It is told nothing different.
        return {"id": None, "state": "open"}
    item = feedback.submit_feedback(
        rating=body["rating"],
        topic=body["topic"],
        comment=body["comment"],
        quote=body["quote"],
        guide_lang=body["guide_language"],
        site_slug=body["site"],
        page_lang=body["language"],
        channel="app",
        languages=supported_languages(),
        now=utcnow(),
    )
    return {"id": item.id, "state": item.state}


def report_scope(args: dict[str, Any]) -> reports.ReportRange:
    """The checked range of a report request, in the town's zone."""
    zone = str(current_app.config["TIMEZONE"])
    return reports.parse_range(
        start=args["start"],
        end=args["end"],
        group=args["group"],
        site=args["site"],
        zone=zone,
        max_days=int(current_app.config["REPORT_MAX_DAYS"]),
        today=datetime.now(ZoneInfo(zone)).date(),
    )


def report_file(report: dict[str, Any], fmt: str) -> Response:
    """The report as a CSV or Excel download."""
    scope = report["range"]
    name = f"hoian-{report['report']}-{scope['from']}-{scope['to']}"
    if fmt == "csv":
        body, mimetype, name = exports.to_csv(report), exports.CSV_TYPE, f"{name}.csv"
    else:
        body, mimetype, name = exports.to_xlsx(report), exports.XLSX_TYPE, f"{name}.xlsx"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _report_view(kind: str) -> Callable[..., Any]:
    def view(args: dict[str, Any]) -> Any:
        report = reports.build_report(kind=kind, scope=report_scope(args))
        if args["format"] != "json":
            return report_file(report, args["format"])
        return report

    view.__name__ = f"report_{kind}"
    view.__doc__ = f"The {kind} report over a range of local days, with the previous period."
    return view


for _kind in reports.KINDS:
    blp.route(f"/reports/{_kind}", endpoint=f"report_{_kind}")(
        require_roles("manager", "finance")(
            blp.arguments(ReportArgsSchema, location="query")(
                blp.response(200, ReportSchema)(
                    error_responses(
                        blp,
                        401,
                        403,
                        422,
                        reasons={
                            422: (
                                "reversed_range",
                                "range_too_long",
                                "too_many_buckets",
                                "unknown_site",
                            )
                        },
                    )(
                        blp.doc(
                            security=BEARER,
                            responses={
                                200: {
                                    "content": {
                                        "text/csv": {"schema": {"type": "string"}},
                                        exports.XLSX_TYPE: {
                                            "schema": {"type": "string", "format": "binary"}
                                        },
                                    }
                                }
                            },
                        )(_report_view(_kind))
                    )
                )
            )
        )
    )
