"""What only PostgreSQL has: the events table's monthly partitions, and the lock and channel replicas share."""
