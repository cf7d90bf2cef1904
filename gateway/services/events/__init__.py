"""Events from devices: ingest, the live stream, operators' follow-up, local days and exports."""
