"""Staff authentication, users and the audit log (inspector devices are gates: ticketing)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app import audit
from app.apidoc import error_responses
from app.auth import services
from app.auth.access import BEARER, current_principal, public_write, require_roles
from app.auth.models import ROLE_VALUES, User
from app.auth.schemas import (
    AuditEntrySchema,
    AuditQuerySchema,
    LoginSchema,
    MeSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)
from app.errors import Unauthorized
from app.ratelimit import failures_limited, rate_limited

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Staff accounts and access")


@blp.route("/auth/token", methods=["POST"])
@rate_limited("LOGIN_RATE_LIMIT")
@public_write
@blp.arguments(LoginSchema)
@blp.response(201, TokenSchema)
@error_responses(blp, 401, 429, reasons={401: ("bad_credentials",)})
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange email and password for a bearer token; wrong passwords are limited per address
    and per account."""
    account = body["email"].strip().lower()
    with failures_limited("LOGIN_ACCOUNT_RATE_LIMIT", key=account, failure=Unauthorized):
        issued = services.login(
            email=body["email"],
            password=body["password"],
            ttl_hours=current_app.config["TOKEN_TTL_HOURS"],
        )
    return {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_at": issued.expires_at_iso,
    }


@blp.route("/auth/token", methods=["DELETE"], endpoint="revoke_token")
@require_roles(*ROLE_VALUES)
@blp.response(204)
@blp.alt_response(401, response="DEFAULT_ERROR")
@blp.doc(security=BEARER)
def revoke_token() -> None:
    """Revoke the token used for this request (log out)."""
    principal = current_principal()
    assert principal is not None and principal.token_id is not None
    services.revoke_token(token_id=principal.token_id)


@blp.route("/auth/me")
@require_roles(*ROLE_VALUES)
@blp.response(200, MeSchema)
@blp.alt_response(401, response="DEFAULT_ERROR")
@blp.doc(security=BEARER)
def me() -> Any:
    """Who the token belongs to and which roles it carries."""
    principal = current_principal()
    assert principal is not None
    return {
        "label": principal.label,
        "roles": sorted(principal.roles),
        "user_id": principal.user_id,
        "device_id": principal.device_id,
    }


@blp.route("/users")
class UsersView(MethodView):
    @require_roles("admin")
    @blp.response(200, UserSchema(many=True))
    @error_responses(blp, 401, 403)
    @blp.doc(security=BEARER, operationId="listUsers")
    def get(self) -> list[User]:
        """Every staff user (admin)."""
        return services.list_users()

    @require_roles("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @error_responses(blp, 401, 403, 409, reasons={409: ("email_taken",)})
    @blp.doc(security=BEARER, operationId="createUser")
    def post(self, body: dict[str, Any]) -> User:
        """Create a staff user (admin)."""
        return services.create_user(**body)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@require_roles("admin")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def update_user(body: dict[str, Any], user_id: int) -> User:
    """Change roles, name, password or deactivate a user (admin); tokens are revoked."""
    return services.update_user(user_id=user_id, **body)


@blp.route("/audit")
@require_roles("admin", "finance")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@error_responses(blp, 401, 403)
@blp.doc(security=BEARER)
def audit_log(args: dict[str, Any]) -> list[audit.AuditLog]:
    """People's actions, newest first (admin, finance): filter by object, action, person and
    time; page with `before_id` = the last id received. The pipeline's own moves are in each
    job's history."""
    return audit.people_entries(**args)
