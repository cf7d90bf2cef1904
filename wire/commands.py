"""Gateway -> device messages on facegate/v1/<site>/<device>/cmd/<what>.

Only the gateway may publish there (broker ACL), and a device reads only its own.

`ack`: the gateway has committed these sequence numbers (stored now, or already
stored earlier). The device deletes them from its outbox only then: an event
acknowledged by the broker but lost before it reached the gateway (a broker
crash) is still on the device and is sent again.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ACK = "ack"
GALLERY = "gallery"  # retained; payload: wire/gallery.py


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
