"""Payment settings are checked at start-up, and only payments/ talks to Stripe."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "x" * 40,
    "DATABASE_URL": "postgresql://db/hoian",
    "PUBLIC_BASE_URL": "https://hoian.example",
}


def _load(env: dict[str, str]) -> dict[str, Any]:
    return load_config(instance_path="/tmp/hoian-instance", overrides=None, environ=env)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HOIAN_PAYMENT_METHODS": "cash,vietqr"}, "VIETQR_BANK_BIN"),
        (
            {"HOIAN_PAYMENT_METHODS": "vietqr", "VIETQR_BANK_BIN": "970436"},
            "VIETQR_ACCOUNT",
        ),
        ({"HOIAN_PAYMENT_METHODS": "stripe"}, "STRIPE_SECRET_KEY"),
        (
            {"HOIAN_PAYMENT_METHODS": "stripe", "STRIPE_SECRET_KEY": "sk_test_1"},
            "STRIPE_WEBHOOK_SECRET",
        ),
        (
            {
                **PRODUCTION,
                "HOIAN_PAYMENT_METHODS": "vietqr",
                "VIETQR_BANK_BIN": "970436",
                "VIETQR_ACCOUNT": "0071000888999",
                "VIETQR_NOTIFY_SECRET": "short",
            },
            "VIETQR_NOTIFY_SECRET",
        ),
        (
            {
                **PRODUCTION,
                "HOIAN_PAYMENT_METHODS": "stripe",
                "STRIPE_SECRET_KEY": "sk_test_1",
                "STRIPE_WEBHOOK_SECRET": "whsec_1",
            },
            "live key",
        ),
    ],
)
def test_an_enabled_method_without_its_settings_stops_the_app(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        _load(env)


def test_configured_methods_start() -> None:
    values = _load(
        {
            **PRODUCTION,
            "HOIAN_PAYMENT_METHODS": "cash,vietqr,stripe",
            "VIETQR_BANK_BIN": "970436",
            "VIETQR_ACCOUNT": "0071000888999",
            "VIETQR_NOTIFY_SECRET": "s" * 40,
            "STRIPE_SECRET_KEY": "sk_live_1",
            "STRIPE_WEBHOOK_SECRET": "whsec_1",
        }
    )
    assert values["TICKET_PAYMENT_METHODS"] == ["cash", "vietqr", "stripe"]


def test_only_the_payments_package_imports_stripe() -> None:
    importers = []
    for path in ROOT.glob("*/**/*.py"):
        top = path.relative_to(ROOT).parts[0]
        if top in ("tests", "payments") or ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "stripe" or name.startswith("stripe.") for name in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []
