"""Chip ID cards (CCCD) at the gateway: the trust store of Country Signing CAs the admin installs, and the audit
entry of every card read, whatever its outcome.

The chip's own logic (BAC, secure messaging, passive authentication) is `emrtd/`; this module decides what the
gateway keeps of a read: the outcome, the findings, the document's type and state, and the card number only as
the keyed hash enrolment uses (gateway/services/security/secrets.py). Never the number, the name or the portrait.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from emrtd.checks.trust import TrustStore
from emrtd.link.apdu import AccessDenied, CardError, CardRemoved, Transport
from emrtd.opening.bac import mrz_information
from emrtd.reader import CardRead, read_card
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Store

# What a read that gave no files ends as, in the audit (the outcomes of a read that did are emrtd.checks.passive's).
REFUSED, INTERRUPTED, UNREADABLE = "refused", "interrupted", "unreadable"


def describe(certificate: x509.Certificate) -> dict:
    """A certificate as the audit and `facegate card trust list` name it."""
    return {"subject": certificate.subject.rfc4514_string(),
            "sha256": hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
            "not_after": certificate.not_valid_after_utc.date().isoformat()}


def add_trusted(store: Store, trust: TrustStore, data: bytes, source: str, actor: str) -> list[x509.Certificate]:
    """Install the CSCA certificate(s) in `data` (a certificate or an ICAO master list) and audit what was new.
    TrustStoreError (a ValueError) if the file is neither, or holds a certificate that is not a CA."""
    added = trust.add(data)
    if added:
        with store.db.transaction() as tx:
            tx.audit(actor, "card.trust_added", None, {"source": source, "certificates": [describe(c) for c in added]})
    return added


def record_read(store: Store, secrets: GatewaySecrets, actor: str, place: str, read: CardRead | None = None,
                failure: str | None = None, problem: str | None = None) -> None:
    """Audit one card read: its outcome (passive authentication and the clone checks, `read`), or why it gave
    nothing (`failure`: refused, interrupted, unreadable, with the reader's words in `problem`). `place`: the
    reader or kiosk."""
    if read is not None:
        detail = {"place": place, "outcome": read.outcome,
                  "problems": [*read.passive.problems, *read.clone.problems], "access": read.protocol,
                  "clone_checks": {"chip": read.clone.chip, "active": read.clone.active},
                  "document_type": read.mrz.document_type, "issuing_state": read.mrz.issuing_state,
                  "card": secrets.id_card_hash(read.mrz.card_number), "signer": read.passive.signer,
                  "issuer": read.passive.issuer}
    else:
        detail = {"place": place, "outcome": failure or UNREADABLE, "problems": [problem] if problem else []}
    with store.db.transaction() as tx:
        tx.audit(actor, "card.read", None, detail)


def read_and_record(store: Store, secrets: GatewaySecrets, trust: TrustStore, transport: Transport,
                    document: str, birth: str, expiry: str, actor: str, place: str) -> CardRead:
    """Read and check the card on `transport` with the three MRZ fields, and audit the read whatever happens.
    ValueError for malformed fields (nothing read, nothing audited); the card's own errors (AccessDenied,
    CardRemoved, CardError, a ValueError for a file that is not ICAO's) after their audit entry."""
    mrz_information(document, birth, expiry)  # a mistyped field is the typist's, not a read
    try:
        read = read_card(transport, document, birth, expiry, trust)
    except AccessDenied as exc:
        record_read(store, secrets, actor, place, failure=REFUSED, problem=str(exc))
        raise
    except CardRemoved as exc:
        record_read(store, secrets, actor, place, failure=INTERRUPTED, problem=str(exc))
        raise
    except (CardError, ValueError) as exc:
        record_read(store, secrets, actor, place, failure=UNREADABLE, problem=str(exc))
        raise
    record_read(store, secrets, actor, place, read=read)
    return read
