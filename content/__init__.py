"""The heritage catalogue: sites, tours, per-language texts, narrations, search and geo."""
