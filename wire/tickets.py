"""The QR ticket: a pass its gates check offline, for a visitor who does not consent to face processing.

    FG1.<body>.<signature>     both base32 (RFC 4648, no padding): QR's alphanumeric mode, 5.5 bits a character

The body is the pass's id, site, window (UTC minutes, hexadecimal), entries (empty: any number) and gates (empty:
every gate of the site), separated by `|`; the signature is the site's Ed25519 ticket key's over
`facegate-ticket-v1|` and the body. The gateway makes the key (one per site) and sends each gate the public half
in its signed gallery, so a gate can tell a genuine ticket from a forged one without asking anyone. Everything a
gate needs to decide is in the ticket; what it cannot know from it -- an entry already made on it, a cancellation
-- it learns from its own entries and its gallery (edge/gate/passes.py).

About 180 characters: a version 9 QR code (53 modules), 0.45 mm a module printed 30 mm wide with its quiet zone.

The ticket list (`cmd/tickets`, retained, signed by the gateway) tells a gate what the tickets cannot: the site's
ticket key, the QR passes of the site whose entries are spent (entries counted at any gate) and those cancelled,
and whether the site is full (services/visitors/occupancy.py).
It is small and changes with every single entry, so it travels apart from the gallery and its templates.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature

from wire.signing import DeviceKey, SignatureError, open_addressed, public_key_from_text, seal_addressed

PREFIX = "FG1"
CONTEXT = b"facegate-ticket-v1|"


class TicketError(ValueError):
    """Not a FaceGate ticket, or one whose signature does not hold (`reason`: "malformed" or "forged")."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Ticket:
    pass_id: str
    site: str
    valid_from: float  # epoch seconds, on the minute
    valid_until: float  # excluded
    entries: int | None  # None: any number (anti-passback aside)
    gates: tuple[str, ...] | None  # None: every gate of the site

    def body(self) -> bytes:
        return "|".join((self.pass_id, self.site, f"{int(self.valid_from // 60):x}", f"{int(self.valid_until // 60):x}",
                         "" if self.entries is None else str(self.entries), ",".join(self.gates or ()))).encode()


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def epoch(text: str) -> float:
    """Stored UTC text (wire.events.utc_text) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def seal_ticket(ticket: Ticket, site_key: DeviceKey) -> str:
    """The text a QR ticket carries."""
    body = ticket.body()
    return f"{PREFIX}.{_b32(body)}.{_b32(base64.b64decode(site_key.sign(CONTEXT + body)))}"


def open_ticket(text: str, site_keys: dict[str, str]) -> Ticket:
    """The ticket in `text`, if one of `site_keys` (site -> public key text) signed it for its site; TicketError
    otherwise."""
    try:
        prefix, body_text, sig_text = text.strip().split(".")
        if prefix != PREFIX:
            raise ValueError(f"not a {PREFIX} ticket")
        body, sig = _unb32(body_text), _unb32(sig_text)
        pass_id, site, start, end, entries, gates = body.decode("utf-8").split("|")
        ticket = Ticket(pass_id, site, int(start, 16) * 60.0, int(end, 16) * 60.0,
                        int(entries) if entries else None, tuple(gates.split(",")) if gates else None)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TicketError("malformed", f"not a FaceGate ticket: {exc}") from None
    key = site_keys.get(site)
    if key is None:
        raise TicketError("forged", f"a ticket of site {site!r}, not of this gate's")
    try:
        public_key_from_text(key).verify(sig, CONTEXT + body)
    except (InvalidSignature, ValueError):
        raise TicketError("forged", "the ticket's signature does not hold") from None
    return ticket


def ticket_of(pass_id: str, site: str, valid_from: str, valid_until: str, entries: int | None,
              gates: list[str]) -> Ticket:
    """The ticket of a pass as stored (UTC text times)."""
    return Ticket(pass_id, site, epoch(valid_from), epoch(valid_until), entries, tuple(gates) or None)


@dataclass(frozen=True)
class TicketList:
    """What a gate knows of its site's QR tickets beyond the tickets themselves."""

    site_keys: dict[str, str]  # site -> the public half of its ticket key
    spent: dict[str, int]  # pass -> entries the gateway has stored, for passes of counted entries used at all
    cancelled: frozenset[str]
    issued_at: str = ""
    full: bool = False  # the site is at its capacity: `in` lanes answer `full`, faces and tickets alike


def seal_ticket_list(device: str, tickets: TicketList, gateway_key: DeviceKey) -> bytes:
    """The `cmd/tickets` payload for `device`."""
    body = {"v": 1, "device": device, "issued_at": tickets.issued_at, "site_keys": tickets.site_keys,
            "spent": tickets.spent, "cancelled": sorted(tickets.cancelled), "full": tickets.full}
    return seal_addressed(body, gateway_key)


def open_ticket_list(payload: bytes, device: str, gateway_public_key: str) -> TicketList:
    """Verify and unpack a `cmd/tickets` payload; TicketError("forged"/"malformed") if anything is off."""
    try:
        body = open_addressed(payload, device, gateway_public_key)
        return TicketList({str(k): str(v) for k, v in body["site_keys"].items()},
                          {str(k): int(v) for k, v in body["spent"].items()},
                          frozenset(map(str, body["cancelled"])), str(body["issued_at"]), body.get("full") is True)
    except SignatureError as exc:
        raise TicketError("forged", f"ticket list signature: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TicketError("malformed", f"malformed ticket list: {exc}") from None
