"""Insights fixtures: the console's signed-in browsers."""

from tests.web.console.conftest import console, signed_in  # noqa: F401 - fixtures
