"""Passive authentication (ICAO 9303 part 11, 5.1): is what the chip gave us what the issuing state signed?

1. every data group read hashes to its value in EF.SOD;
2. the SOD's CMS signature verifies with the Document Signer certificate inside it;
3. that certificate is signed by a Country Signing CA in the site's trust store, of the state the card names
   as its issuer (DG1): a trust store holding many countries' CSCAs (an ICAO master list) must not let one
   country vouch for another's cards;
4. the document has not expired.

The outcome is one word, the gravest that applies: `tampered` (1 or 2 fails, or the DSC names a trusted CSCA
whose signature is not on it), `untrusted_issuer` (every signature good, but no trusted CSCA issued the DSC: the
card may be genuine, nothing proves it), `expired_document` (genuine, but no longer valid), or `genuine`.
`problems` lists every finding, not only the gravest. A tampered card is never enrolled; what to do with an
untrusted issuer is the site's setting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pycountry
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from emrtd.checks.signatures import SignatureProblem, digest, verify_signed_data
from emrtd.checks.trust import TrustStore
from emrtd.files.sod import Sod

GENUINE, UNTRUSTED_ISSUER, TAMPERED, EXPIRED_DOCUMENT = "genuine", "untrusted_issuer", "tampered", "expired_document"
OUTCOMES = (GENUINE, UNTRUSTED_ISSUER, TAMPERED, EXPIRED_DOCUMENT)


@dataclass(frozen=True)
class PassiveAuthentication:
    """The outcome and how it was reached, in plain words (`problems` empty when genuine)."""

    outcome: str
    problems: tuple[str, ...] = ()
    hash_algorithm: str = ""
    groups_checked: tuple[int, ...] = ()
    signer: str = ""  # the Document Signer certificate's subject
    issuer: str = ""  # the trusted CSCA that signed it, if any


def expiry_date(yymmdd: str, today: dt.date) -> dt.date:
    """A document's expiry from the MRZ's YYMMDD: within 50 years after today's year, else the century before."""
    year = 2000 + int(yymmdd[:2])
    if year > today.year + 50:
        year -= 100
    return dt.date(year, int(yymmdd[2:4]), int(yymmdd[4:6]))


# ICAO 9303 part 3 codes that are not ISO 3166-1 alpha-3.
ICAO_STATES = {"D": "DE"}


def issuing_country(state: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of an MRZ's issuing state ("VNM" -> "VN"; "D<<" -> "DE"), None if unknown."""
    state = state.rstrip("<").upper()
    country = pycountry.countries.get(alpha_3=state) if len(state) == 3 else None
    return ICAO_STATES.get(state) or (country.alpha_2 if country else None)


def _country_of(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    return str(names[0].value).upper() if names else ""


def authenticate(sod: Sod, groups: dict[int, bytes], trust: TrustStore, expiry: str | None,
                 today: dt.date | None = None, digests: dict[int, bytes] | None = None,
                 issuing_state: str | None = None) -> PassiveAuthentication:
    """Check `groups` (data group number → file bytes as read) against `sod`, its signature against the trust
    store -- a CSCA of `issuing_state` (DG1's, e.g. "VNM") -- and `expiry` (YYMMDD from DG1) against `today`.
    `digests` are groups hashed elsewhere (a kiosk sends DG2's digest, never the portrait), with the SOD's
    algorithm."""
    today = today or dt.date.today()
    tampered: list[str] = []
    checked = []
    hashed = {n: digest(sod.hash_algorithm, data) for n, data in groups.items()} | (digests or {})
    for number, value in sorted(hashed.items()):
        listed = sod.hashes.get(number)
        if listed is None:
            tampered.append(f"DG{number} is not listed in the security object")
        elif value != listed:
            tampered.append(f"DG{number} does not hash to the value the issuer signed")
        else:
            checked.append(number)
    signer = issuer = ""
    trusted = False
    try:
        _, dsc = verify_signed_data(sod.signed_data)
        signer = dsc.subject.rfc4514_string()
        candidates = trust.issuers_of(dsc)
        for csca in candidates:
            try:
                dsc.verify_directly_issued_by(csca)
            except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                continue
            trusted, issuer = True, csca.subject.rfc4514_string()
            if issuing_state is not None and _country_of(csca) != issuing_country(issuing_state):
                tampered.append(f"the card names {issuing_state.rstrip('<')} as its issuing state, but the CSCA "
                                f"that vouches for it is {_country_of(csca) or 'of no country'}'s")
            break
        if candidates and not trusted:
            tampered.append("the Document Signer certificate is not signed by the trusted CSCA it names")
    except SignatureProblem as exc:
        tampered.append(f"the security object's signature fails: {exc}")
    base = dict(hash_algorithm=sod.hash_algorithm, groups_checked=tuple(checked), signer=signer, issuer=issuer)
    if tampered:
        return PassiveAuthentication(TAMPERED, tuple(tampered), **base)
    problems = []
    if not trusted:
        problems.append("the signatures are good, but no Country Signing CA in the trust store issued the Document "
                        "Signer certificate")
    if expiry is not None and (expires := expiry_date(expiry, today)) < today:
        problems.append(f"the document expired on {expires:%d/%m/%Y}")
    outcome = UNTRUSTED_ISSUER if not trusted else EXPIRED_DOCUMENT if problems else GENUINE
    return PassiveAuthentication(outcome, tuple(problems), **base)
