"""People and their consent: enrolment from photos and chip cards, consent granted, withdrawn and expired."""
