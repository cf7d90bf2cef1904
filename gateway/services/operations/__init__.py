"""Running the gateway: background jobs on one replica, retention and consent expiry, Prometheus metrics."""
