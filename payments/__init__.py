"""Cashless payment: Stripe, VietQR bank transfer and cash desk.

`init_app` registers the payment methods with ticketing's seam, the webhooks, the VietQR
images and what finance sees of payments (`routes.py`), the order's payment page and
`flask payments`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Offer card, transfer and desk payment to orders (each where configuration enables it)."""
    from app.extensions import api
    from payments.cli import payments_cli
    from payments.methods import CashDesk, StripeCard, VietQRTransfer
    from payments.pages import bp as pages_bp
    from payments.routes import blp
    from ticketing import payment_methods

    for method in (CashDesk(), VietQRTransfer(), StripeCard()):
        payment_methods.register(app, method)
    api.register_blueprint(blp)
    app.register_blueprint(pages_bp)
    app.cli.add_command(payments_cli)
