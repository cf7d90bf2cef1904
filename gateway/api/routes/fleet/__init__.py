"""The devices and what they run: the registry, their configurations, the fleet at a glance, updates, doors."""
