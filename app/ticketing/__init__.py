"""E-tickets: products, orders, signed QR codes, check-in online and offline (issue #4)."""
