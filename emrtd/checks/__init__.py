"""Whether to believe the card: passive authentication against the trust store, and the anti-clone checks."""
