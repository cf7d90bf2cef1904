"""Gateway -> device messages on facegate/v1/<site>/<device>/cmd/<what>.

Only the gateway may publish there (broker ACL), and a device reads only its own.

`door`: an operator's "open lane N once", signed by the gateway. Not retained
and short-lived: a device refuses one that is unsigned, for another device,
older than `DOOR_COMMAND_MAX_AGE_S`, or already executed (`FreshCommands`).

`card`: "read the chip ID card on your reader with these MRZ details" for a
kiosk (issue 15), signed, not retained, refused the same way as `door`; the
details themselves sealed to the kiosk, so no broker ever holds them readable.

`ack`: the gateway has committed these sequence numbers (stored now, or already
stored earlier). The device deletes them from its outbox only then: an event
acknowledged by the broker but lost before it reached the gateway (a broker
crash) is still on the device and is sent again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Generic, Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from wire.evidence import EvidenceError, open_sealed, seal
from wire.signing import SignatureError, canonical_json, public_key_from_text, verify_envelope

ACK = "ack"
GALLERY = "gallery"  # retained; payload: wire/gallery.py
SESSION = "session"  # retained until the session's summary arrives: an exam session to run
DOOR = "door"  # not retained: a door opens now or not at all
CARD = "card"  # not retained: a kiosk reads the card on its reader now or not at all
TICKETS = "tickets"  # retained; payload: wire/tickets.py (a gate's site's ticket key, spent and cancelled tickets)
CONFIG = "config"  # retained; payload: wire/device_config.py (the device's settings, sealed to it)
UPDATE = "update"  # retained; payload: wire/updates.py (a model pack to install)
DOOR_COMMAND_MAX_AGE_S = 30.0


class DeliveryAck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = 1
    ranges: list[tuple[int, int]] = Field(default_factory=list)  # inclusive [first, last] runs of seqs

    @classmethod
    def of(cls, seqs: list[int]) -> DeliveryAck:
        runs: list[tuple[int, int]] = []
        for seq in sorted(set(seqs)):
            if runs and seq == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], seq)
            else:
                runs.append((seq, seq))
        return cls(ranges=runs)

    def seqs(self) -> list[int]:
        return [s for first, last in self.ranges for s in range(first, last + 1)]


class SessionCommand(BaseModel):
    """An exam session created at the gateway for one exam device (signed by the gateway)."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    session: str
    device: str
    candidate: str
    exam_type: str = "theory"
    stage: str = "theory"
    seat: str | None = None
    created_by: str


class DoorCommand(BaseModel):
    """An operator's order to open one lane's door once (signed by the gateway)."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]  # a UUIDv7: executed at most once
    device: str
    lane: int = Field(ge=1, le=64)
    action: Literal["open"] = "open"
    issued_at: AwareDatetime
    by: Annotated[str, Field(max_length=64)]  # the operator's user name
    reason: Annotated[str, Field(min_length=1, max_length=500)]


MAX_LISTED_KEYS = 400  # an exam room's slot is a few dozen candidates, each with one to three possible expiries
ListedKey = Annotated[str, Field(pattern=r"^[0-9A-Z<]{1,9},[0-9]{6},[0-9]{6}$")]  # "DOCUMENT,BIRTH,EXPIRY"


class CardDetails(BaseModel):
    """The three MRZ fields the person typed, what the chip's access key is made from -- or none of them: the kiosk
    then takes them from the card's QR code (emrtd/access.py) -- or, at an exam room's door, `keys`: those of the
    candidates expected there, from the council's list, to find which one the card on the reader opens with."""

    model_config = ConfigDict(extra="forbid")

    document: Annotated[str, Field(pattern=r"^[0-9A-Z<]{1,9}$")] | None = None
    birth: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None  # YYMMDD
    expiry: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None
    keys: Annotated[list[ListedKey], Field(max_length=MAX_LISTED_KEYS)] | None = None

    @model_validator(mode="after")
    def _all_or_none(self) -> CardDetails:
        if len({self.document is None, self.birth is None, self.expiry is None}) > 1:
            raise ValueError("the card's details: all three, or none (from its QR code)")
        if self.keys is not None and self.document is not None:
            raise ValueError("the card's details are typed or listed, not both")
        return self

    @property
    def typed(self) -> bool:
        return self.document is not None

    @property
    def from_qr(self) -> bool:
        """Neither typed nor listed: the kiosk takes the key from the card's QR code, with its camera."""
        return self.document is None and self.keys is None


class CardReadCommand(BaseModel):
    """A kiosk's order to read the card on its reader (signed by the gateway). The person's card details travel
    sealed to the kiosk (`seal_card_details`): a broker that keeps the command -- for a kiosk behind a site
    bridge that is down, say -- keeps ciphertext, and the details are kept readable nowhere."""

    model_config = ConfigDict(extra="forbid")

    v: int = 2
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]  # the read's id (a UUIDv7): run at most once
    device: str
    issued_at: AwareDatetime
    by: Annotated[str, Field(max_length=64)]  # the user at the counter
    nonce: Annotated[str, Field(max_length=64)]
    sealed: Annotated[str, Field(max_length=40000)]  # CardDetails, AES-GCM with the kiosk's gallery key

    def details(self, key: str) -> CardDetails:
        """The card details, opened with the kiosk's gallery key; CommandRefused("unsealed") if they do not
        open (another device's key, or altered)."""
        try:
            return CardDetails.model_validate_json(open_sealed(key, self.device, _card_record(self.id), self.nonce,
                                                               self.sealed))
        except (EvidenceError, ValidationError):
            raise CommandRefused("unsealed", self.id) from None


def seal_card_details(key: str, device: str, read_id: str, details: CardDetails) -> tuple[str, str]:
    """(nonce, sealed) of `details` for kiosk `device`'s read `read_id`, with the kiosk's gallery key."""
    return seal(key, device, _card_record(read_id), details.model_dump_json(exclude_none=True).encode())


def _card_record(read_id: str) -> str:
    return f"cmd:card:{read_id}"


Command = TypeVar("Command", SessionCommand, DoorCommand, CardReadCommand)


class CommandRefused(ValueError):
    """A command the device will not execute; `reason` is what the device counts it under."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class FreshCommands(Generic[Command]):
    """Opens one kind of short-lived command (`cmd/door`, `cmd/card`) for one device and remembers which it
    executed, so a replay is refused.

    Remembering ids for twice the maximum age is enough: anything older is refused as stale anyway.
    """

    def __init__(self, device: str, gateway_public_key: str, cls: type[Command] = DoorCommand,
                 max_age_s: float = DOOR_COMMAND_MAX_AGE_S):
        self.device, self.cls = device, cls
        self.key = public_key_from_text(gateway_public_key)
        self.max_age = timedelta(seconds=max_age_s)
        self._seen: dict[str, datetime] = {}

    def open(self, payload: bytes, now: datetime | None = None) -> Command:
        """The verified command; CommandRefused(malformed | unsigned | bad_signature | other_device | stale |
        replayed) otherwise."""
        now = now or datetime.now(timezone.utc)
        command = open_command(payload, self.cls, self.device, self.key)
        age = now - command.issued_at
        # A little slack for a gateway clock ahead of ours; far in the future is as suspect as far in the past.
        if age > self.max_age or age < -timedelta(seconds=5):
            raise CommandRefused("stale", f"issued {age.total_seconds():.0f} s ago")
        self._seen = {k: at for k, at in self._seen.items() if now - at <= 2 * self.max_age}
        if command.id in self._seen:
            raise CommandRefused("replayed", command.id)
        self._seen[command.id] = now
        return command


def sign_command(command: BaseModel, key) -> bytes:
    """{"body": ..., "sig": ...} signed by the gateway's key (wire.signing.DeviceKey)."""
    body = command.model_dump(mode="json")
    return json.dumps({"body": body, "sig": key.sign(canonical_json(body))}).encode()


def open_command(payload: bytes, cls: type[Command], device: str, key: Ed25519PublicKey) -> Command:
    """A signed command of `cls` for `device`, verified with the gateway's `key`; CommandRefused(malformed |
    unsigned | bad_signature | other_device) otherwise."""
    try:
        envelope = json.loads(payload)
        body, sig = envelope["body"], envelope.get("sig")
        if not isinstance(body, dict):
            raise TypeError("body")
    except (ValueError, TypeError, KeyError):
        raise CommandRefused("malformed") from None
    if not sig:
        raise CommandRefused("unsigned")
    try:
        verify_envelope(body, sig, key)
    except SignatureError:
        raise CommandRefused("bad_signature") from None
    try:
        command = cls.model_validate(body)
    except ValidationError:
        raise CommandRefused("malformed") from None
    if command.device != device:
        raise CommandRefused("other_device", f"for {command.device}, not {device}")
    return command


def open_session_command(payload: bytes, device: str, gateway_public_key: str) -> SessionCommand:
    """Verify and parse a `cmd/session` payload meant for `device`; CommandRefused (a ValueError) if it is not."""
    return open_command(payload, SessionCommand, device, public_key_from_text(gateway_public_key))
