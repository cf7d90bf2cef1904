"""Commands to the chip and what can go wrong talking to it (ISO/IEC 7816-4).

A reader is anything with `transmit(apdu) -> response` (data, then the two status bytes) and `reconnect()`:
PC/SC in emrtd/link/pcsc.py, a software card in the tests. It raises `CardRemoved` when the card is gone or the
link failed mid-exchange.
"""

from __future__ import annotations

from typing import Protocol

OK = 0x9000


class CardError(Exception):
    """Reading the card failed; the message says why in plain words."""


class CardRemoved(CardError):
    """The card left the reader (or the link failed) before the exchange ended."""


class AccessDenied(CardError):
    """The card refused the access key: the MRZ details typed do not belong to it."""


class StatusError(CardError):
    """The card answered a command with a status other than 9000."""

    def __init__(self, what: str, status: int):
        super().__init__(f"{what}: the card answered {status:04X}")
        self.status = status


class Transport(Protocol):
    def transmit(self, apdu: bytes) -> bytes:
        """The card's answer to `apdu`: its data followed by SW1 SW2. CardRemoved if the link failed."""

    def reconnect(self) -> None:
        """Reset the card and open it afresh (after a failed exchange). CardRemoved if it is not there."""


def command(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """A short APDU; `le` 256 is written as 00."""
    apdu = bytes((cla, ins, p1, p2))
    if data:
        apdu += bytes((len(data),)) + data
    if le is not None:
        apdu += bytes((le & 0xFF,))
    return apdu


def split(response: bytes) -> tuple[bytes, int]:
    """(data, status word) of a response; CardError if it is shorter than a status word."""
    if len(response) < 2:
        raise CardError("the card's answer was cut short")
    return response[:-2], int.from_bytes(response[-2:], "big")
