"""Mail to buyers: the order confirmation with the tickets when an order is paid, a refund
notice when money goes back; over SMTP, or as .eml files when no server is configured.

It sits above ticketing and payments and hears about them through their signals
(`ticketing.signals`, `payments.signals`); sending is a background job (`app.tasks`).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Listen for paid orders and refunds, add `mail` to the order's document, register the
    delivery job, the finance API and `flask mail`."""
    from app import tasks
    from app.extensions import api
    from mail import presenters, services
    from mail.cli import mail_cli
    from mail.routes import blp
    from payments import signals as payment_signals
    from ticketing import signals as ticket_signals

    ticket_signals.order_paid.connect(services.order_paid)
    ticket_signals.order_document.connect(presenters.order_mail_section)
    payment_signals.refund_succeeded.connect(services.refund_succeeded)
    tasks.register(app, services.JOB, services.deliver)
    api.register_blueprint(blp)
    app.cli.add_command(mail_cli)
