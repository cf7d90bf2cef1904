"""Gateway: MQTT ingest, event store and the audit API (built in the events issue)."""
