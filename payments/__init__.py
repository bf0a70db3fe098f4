"""Cashless payment: Stripe, VietQR bank transfer and cash desk (see issue #5)."""
