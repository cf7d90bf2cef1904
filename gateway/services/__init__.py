"""What the gateway does, one room per domain and one module per idea; each imports storage, never the API.

people/       consent (granting, withdrawing, expiring; erasures that follow), enrolment of consented photos,
              chip cards (trust store, read audit), the kiosk's self-enrolment
devices/      registry (sites, provisioning, revocation), galleries kept equal to consent, doors opened by hand
events/       ingest (MQTT in, checked, stored or refused), live fan-out, operators' follow-up, exports, local days
exams/        sessions: devices' exam events folded in, reviews and verdicts by people
security/     auth (users, tokens, throttling), the audit chain's check and anchor, pki, secrets, owner-only files
broker/       Mosquitto files from the device registry; the embedded broker for the demo
operations/   background jobs on one replica, retention and consent expiry, Prometheus metrics
"""
