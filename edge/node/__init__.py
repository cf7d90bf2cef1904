"""Running a device: one builder per device kind (gate, exam, kiosk), the multi-camera runner, heartbeats."""
