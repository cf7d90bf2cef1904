"""The chip's access key without typing: from the QR code printed on Vietnam's ID card.

BAC's key is made of the document number, the birth date and the expiry date
(emrtd/opening/bac.py). The card's QR code (front of the 2021 CCCD, back of the 2024
Căn cước) is UTF-8 text, fields separated by `|`: the 12-digit personal
number, the old 9-digit ID, the full name, the birth date (ddmmyyyy), the sex,
the address, the issue date (ddmmyyyy), and on newer cards more. It carries no
expiry date, but the card's rules leave few: a card is valid until the
holder's birthday at 25, 40 or 60, and one issued within two years before such
a birthday runs to the next (../shared/data/README.md). `access_candidates`
lists them, likeliest first (`roster_candidates` does the same from a roster
entry's number and birth date); `read_card_trying` spends one access attempt on
each until the card opens. The document number in the MRZ is the personal
number's last nine digits.

Of the QR code only the personal number, the birth date and the issue date are
read; the name, the address and the rest are not kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from emrtd.checks.trust import TrustStore
from emrtd.link.apdu import AccessDenied, StatusError, Transport
from emrtd.opening.bac import BacKeys, mrz_information
from emrtd.opening.bac import authenticate as basic_access_control
from emrtd.reader import CardRead, read_card, select_application

MILESTONES = (25, 40, 60)  # the ages whose birthday ends a card
EARLY_YEARS = 2  # a card issued less than this before a milestone runs to the next


@dataclass(frozen=True)
class CardQr:
    """What the access key needs from the card's QR code."""

    personal_number: str  # 12 digits
    birth: dt.date
    issued: dt.date | None

    @property
    def document(self) -> str:
        """The MRZ's document number: the personal number's last nine digits."""
        return self.personal_number[-9:]


def parse_card_qr(text: str) -> CardQr:
    """The personal number, birth date and issue date of a CCCD / Căn cước QR code's text; ValueError if the text
    is not one (a ticket's QR code, a URL, a damaged read)."""
    fields = text.strip().split("|")
    if len(fields) < 7 or not (len(fields[0]) == 12 and fields[0].isdigit()):
        raise ValueError("not the QR code of a Vietnamese ID card (12-digit personal number|...|birth|...|issued)")
    birth = _ddmmyyyy(fields[3], "birth date")
    issued = _ddmmyyyy(fields[6], "issue date") if fields[6].strip() else None
    return CardQr(fields[0], birth, issued)


def _ddmmyyyy(value: str, what: str) -> dt.date:
    value = value.strip()
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError
        return dt.date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        raise ValueError(f"the QR code's {what} {value!r} is not ddmmyyyy") from None


def _birthday(birth: dt.date, age: int) -> dt.date:
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:  # born on 29 February: the birthday of a common year is 1 March
        return dt.date(birth.year + age, 3, 1)


def expiry_candidates(birth: dt.date, issued: dt.date | None, today: dt.date) -> list[dt.date]:
    """The expiry dates the card's rules allow, likeliest first: from the issue date where the QR code gives it
    (then the milestone before or after, in case the two-year rule was applied otherwise), else every milestone
    birthday not yet past. A card of a holder past 60 has no end date; how its MRZ writes that is not known, so
    none is offered for it."""
    ends = [_birthday(birth, age) for age in MILESTONES]
    if issued is not None:
        following = [end for end in ends if end > issued]
        if not following:
            return []
        first = following[0]
        rule = following[1] if (first - issued).days < 365 * EARLY_YEARS and len(following) > 1 else first
        ordered = [rule, first, *following[1:2]]  # repeats fall out below
    else:
        ordered = [end for end in ends if end >= today]
    return list(dict.fromkeys(ordered))


def access_candidates(qr: CardQr, today: dt.date) -> list[tuple[str, str, str]]:
    """(document, birth YYMMDD, expiry YYMMDD) to try, one access attempt each, likeliest first."""
    return [(qr.document, f"{qr.birth:%y%m%d}", f"{end:%y%m%d}")
            for end in expiry_candidates(qr.birth, qr.issued, today)]


def roster_candidates(personal_number: str, birth: dt.date, today: dt.date,
                      issued: dt.date | None = None) -> list[tuple[str, str, str]]:
    """The keys to try for a card known from a roster entry (an exam's candidate list holds the personal number
    and the birth date, not the expiry), likeliest first, as for the QR code."""
    if not (len(personal_number) == 12 and personal_number.isdigit()):
        raise ValueError("a personal number is 12 digits")
    return access_candidates(CardQr(personal_number, birth, issued), today)


def listed_keys(document: str, birth: dt.date, today: dt.date) -> list[tuple[str, str, str]]:
    """The same from what a list keeps for the day: the document number (the personal number's last nine digits)
    and the birth date."""
    return [(document, f"{birth:%y%m%d}", f"{end:%y%m%d}") for end in expiry_candidates(birth, None, today)]


def probe_keys(transport: Transport, keys: list[tuple[str, str, str]]) -> int | None:
    """Which of `keys` opens the card on the reader, found with BAC's mutual authentication alone -- three short
    commands a key, where a whole read per key would run PACE's key agreement each time. The card is reset after;
    `read_card` then opens it with its strongest protocol. None if the card refuses BAC itself (a PACE-only card:
    try the keys with `read_card_trying`); AccessDenied if it accepts none."""
    for index, (document, birth, expiry) in enumerate(keys):
        select_application(transport)
        try:
            basic_access_control(transport, BacKeys.from_mrz_information(mrz_information(document, birth, expiry)))
        except AccessDenied:
            continue
        except StatusError:  # GET CHALLENGE refused: the card runs PACE only
            transport.reconnect()
            return None
        transport.reconnect()
        return index
    raise AccessDenied(f"the card did not open with any of the {len(keys)} keys listed for this door")


@dataclass(frozen=True)
class Opened:
    """A read that needed `attempts` access attempts (the card refused the ones before)."""

    read: CardRead
    attempts: int


def read_card_trying(transport: Transport, candidates: list[tuple[str, str, str]], trust: TrustStore,
                     today: dt.date | None = None) -> Opened:
    """Read the card with the first candidate key it accepts. AccessDenied if it accepts none (or there is
    none); the card's other errors as `read_card` raises them."""
    for attempt, (document, birth, expiry) in enumerate(candidates, 1):
        try:
            return Opened(read_card(transport, document, birth, expiry, trust, today), attempt)
        except AccessDenied:
            continue
    raise AccessDenied(f"the card did not accept any of the {len(candidates)} keys its QR code allows: "
                       "type the details from the card")
