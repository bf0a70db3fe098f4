"""Request schemas of the mail API (responses use ticketing's order mail schemas)."""

from __future__ import annotations

from marshmallow import Schema, fields


class ResendSchema(Schema):
    recipient = fields.Email(
        metadata={"description": "Send to this address instead (a buyer's typo, corrected)"}
    )
