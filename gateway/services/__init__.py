"""What the gateway does, one module per idea; each imports storage, never the API.

audit       the chain check and its signed anchor outside the database
auth        users, passwords, tokens, login throttling
broker      Mosquitto files from the device registry; the embedded broker for the demo
consent     granting, withdrawing and expiring consent; erasures that follow
devices     sites, provisioning and revocation of devices
enrolment   consented photos to subjects with templates
exams       exam sessions: projection of device events, review, verdicts
files       owner-only files and the start-up check
galleries   every device's gallery kept equal to its people's consent
ingest      MQTT in, checked events stored, rejected by reason or quarantined
live        fan-out of stored events to live listeners
retention   consents that expire and data kept no longer than its class allows
secrets     the gateway's own keys
"""
