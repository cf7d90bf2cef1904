"""Gateway -> device messages on facegate/v1/<site>/<device>/cmd/<what>.

Only the gateway may publish there (broker ACL), and a device reads only its own.

`ack`: the gateway has committed these sequence numbers (stored now, or already
stored earlier). The device deletes them from its outbox only then: an event
acknowledged by the broker but lost before it reached the gateway (a broker
crash) is still on the device and is sent again.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from wire.signing import canonical_json, public_key_from_text, verify_envelope

ACK = "ack"
GALLERY = "gallery"  # retained; payload: wire/gallery.py
SESSION = "session"  # retained until the session's summary arrives: an exam session to run


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


def sign_command(command: BaseModel, key) -> bytes:
    """{"body": ..., "sig": ...} signed by the gateway's key (wire.signing.DeviceKey)."""
    body = command.model_dump(mode="json")
    return json.dumps({"body": body, "sig": key.sign(canonical_json(body))}).encode()


def open_session_command(payload: bytes, device: str, gateway_public_key: str) -> SessionCommand:
    """Verify and parse a `cmd/session` payload meant for `device`; ValueError if it is not."""
    envelope = json.loads(payload)
    verify_envelope(envelope["body"], envelope.get("sig"), public_key_from_text(gateway_public_key))
    command = SessionCommand.model_validate(envelope["body"])
    if command.device != device:
        raise ValueError(f"session command for {command.device}, not {device}")
    return command
