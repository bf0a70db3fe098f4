"""What ticketing tells the domains above it, without importing them (blinker signals, as in
`content/signals.py`): an order was paid, and an order's document is being built.

Receivers connect in their own `init_app`; the mail domain answers both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from blinker import Namespace

if TYPE_CHECKING:
    from ticketing.models import Order

_signals = Namespace()

#: Sent with an order once it is paid and its tickets are issued (inside the transaction that
#: pays it; work that must wait for the commit uses `app.db.on_commit`).
order_paid = _signals.signal("order-paid")

#: Sent with an order while its document (API, pay page) is built; each receiver returns a
#: mapping of fields to add (the mail domain adds `mail`: how messages reach the buyer).
order_document = _signals.signal("order-document")


def paid(order: Order) -> None:
    """Tell the domains above that an order was paid."""
    order_paid.send(order)


def order_sections(order: Order) -> dict[str, Any]:
    """The fields other domains add to an order's document."""
    fields: dict[str, Any] = {}
    for _, value in order_document.send(order):
        fields.update(value)
    return fields
