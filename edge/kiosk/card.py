"""The chip ID card on this device's reader: read, checked for integrity, and its portrait made a template.

The kiosk's enrolment and the exam's check-in by chip both start here. The device has no trust store: whether
the issuing state is trusted is the gateway's call (gateway/services/people/kiosk.py).
"""

from __future__ import annotations

from pathlib import Path

from emrtd.checks.clones import CLONE_SUSPECTED
from emrtd.checks.passive import TAMPERED
from emrtd.checks.trust import TrustStore
from emrtd.link.apdu import Transport
from emrtd.reader import CardRead, read_card
from models.pack import LoadedPack
from models.photos import Template, template_from_image

NO_TRUST_STORE = TrustStore(Path("/nonexistent/facegate-kiosk-trust"))  # the device judges integrity, not trust


def chip_template(read: CardRead, pack: LoadedPack, quality) -> Template | str:
    """The template of the card's portrait, or why there is none (a corrupt image, no face, a poor one)."""
    try:
        return template_from_image(read.faces[0].decode(), pack, quality)
    except ValueError as exc:  # a corrupt image on the chip
        return str(exc)


def read_chip_card(reader: Transport, mrz: str) -> CardRead:
    """The card on `reader`, opened with "DOC,BIRTH,EXPIRY" and checked for integrity (no trust store here);
    ValueError for malformed details, a tampered card or a suspected clone, the card's own errors
    (emrtd.link.apdu) otherwise."""
    parts = [p.strip() for p in mrz.split(",")]
    if len(parts) != 3:
        raise ValueError("the card's details are DOCUMENT,BIRTH,EXPIRY (dates as YYMMDD)")
    read = read_card(reader, *parts, NO_TRUST_STORE)
    if read.outcome in (TAMPERED, CLONE_SUSPECTED):
        problems = [*read.passive.problems, *read.clone.problems]
        raise ValueError(f"the card failed its authenticity check ({read.outcome}): " + "; ".join(problems))
    return read
