"""Devices and what they hold: provisioning and revocation, galleries kept equal to consent, doors opened by hand."""
