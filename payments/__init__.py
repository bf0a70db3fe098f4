"""Cashless payment: Stripe, VietQR bank transfer and cash desk (see issue #5).

`init_app` registers the payment methods with ticketing's seam; the webhooks, the VietQR
images and what finance sees of payments are in `routes.py`.
"""

from __future__ import annotations

from typing import Any


def init_app(app: Any) -> None:
    """Offer card, transfer and desk payment to orders (each where configuration enables it)."""
    from app.ticketing import payment_methods
    from payments.methods import CashDesk, StripeCard, VietQRTransfer

    for method in (CashDesk(), VietQRTransfer(), StripeCard()):
        payment_methods.register(app, method)
