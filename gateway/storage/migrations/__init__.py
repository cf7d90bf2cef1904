"""Versioned schema migrations (Alembic), applied when the gateway opens its database."""
