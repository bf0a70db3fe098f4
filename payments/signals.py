"""What payments tells the domains above it (blinker signals): money went back to a buyer.

Receivers connect in their own `init_app`; the mail domain sends the refund notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blinker import Namespace

if TYPE_CHECKING:
    from payments.models import Refund

_signals = Namespace()

#: Sent with a refund row when it reaches `succeeded` (the money is on its way back: a card
#: refund Stripe accepted, cash handed back, a transfer finance sent), inside the transaction.
refund_succeeded = _signals.signal("refund-succeeded")


def refunded(refund: Refund) -> None:
    """Tell the domains above that a refund succeeded."""
    refund_succeeded.send(refund)
