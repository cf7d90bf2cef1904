"""Provisioning: devices, consent, enrolment and gallery sync (built in the provisioning issue)."""
