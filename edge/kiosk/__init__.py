"""A kiosk: the chip ID card on its reader and the live face before its camera, for self-enrolment."""
