"""Insights fixtures: the console's signed-in browsers and the payments shop."""

from tests.payments.conftest import buyer, shop, stripe_fake  # noqa: F401 - fixtures
from tests.web.console.conftest import console, signed_in  # noqa: F401 - fixtures
