"""The device's link to the gateway: signed events into the outbox, the publisher, the gallery the gateway sends."""
