"""Staff accounts, roles, bearer tokens and enrolled inspector devices."""
