"""Updates the gateway sends: model packs fetched, checked, self-tested and switched to, with the previous kept."""
