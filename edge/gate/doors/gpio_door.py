"""Doors on GPIO lines: a relay (with an optional door contact read back), and a Wiegand 26/34 output.

Wiegand sends the subject's card number to a controller that already holds a card list: two lines, DATA0
and DATA1, idle high; each bit pulls one of them low for 50 us (DATA0 for a 0, DATA1 for a 1), 2 ms apart,
most significant bit first, framed by parity bits:

    26 bits: E + 24 data bits (facility 8, card 16) + O      E: even parity of data bits 1-12
    34 bits: E + 32 data bits + O                            O: odd parity of the last half

Numbers come from the door's `cards` CSV (`subject,card_number`); a subject without one cannot be let in this
way, and the door event says so.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from edge.gate.doors.base import DoorFault

from edge.settings import DoorSettings
from edge.gate.doors.lines import Line, open_line
from edge.gate.doors.relay import Relay

BIT_LOW_S = 50e-6
BIT_INTERVAL_S = 2e-3


class GpioRelay(Relay):
    def __init__(self, settings: DoorSettings, line: Line | None = None, contact: Line | None = None):
        super().__init__(settings)
        self._line = line or open_line(settings.line, output=True)
        self._contact = contact or (open_line(settings.contact, output=False) if settings.contact else None)

    def _energise(self, on: bool) -> None:
        self._line.set(on != self.settings.active_low)

    def door_state(self) -> str | None:
        if self._contact is None:
            return None
        return "open" if self._contact.get() else "closed"

    def close(self) -> None:
        super().close()
        self._line.release()
        if self._contact:
            self._contact.release()


def wiegand_bits(card: int, bits: int = 26) -> list[int]:
    """The frame for `card`: parity, data bits most significant first, parity."""
    data_bits = bits - 2
    if not 0 <= card < 1 << data_bits:
        raise ValueError(f"card number {card} does not fit Wiegand {bits} ({data_bits} data bits)")
    data = [(card >> (data_bits - 1 - i)) & 1 for i in range(data_bits)]
    half = data_bits // 2
    even = sum(data[:half]) % 2  # makes the first half plus this bit even
    odd = 1 - sum(data[half:]) % 2  # makes the second half plus this bit odd
    return [even, *data, odd]


def read_cards(path: Path) -> dict[str, int]:
    """subject -> card number from a CSV of `subject,card_number` (a header line is allowed)."""
    cards = {}
    with Path(path).open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[1].strip().isdigit():
                cards[row[0].strip()] = int(row[1].strip())
    return cards


class WiegandOutput:
    def __init__(self, settings: DoorSettings, data0: Line | None = None, data1: Line | None = None):
        self.settings = settings
        self.cards = read_cards(settings.cards)
        self._d0 = data0 or open_line(settings.data0, output=True)
        self._d1 = data1 or open_line(settings.data1, output=True)
        for line in (self._d0, self._d1):
            line.set(True)  # idle high

    def open(self, subject: str | None = None) -> float:
        card = self.cards.get(subject or "")
        if card is None:
            raise DoorFault("Wiegand needs a card number and " + (f"{subject} has none in {self.settings.cards}"
                                                                 if subject else "an operator opening has none"))
        try:
            frame = wiegand_bits(card, self.settings.wiegand_bits)
        except ValueError as exc:
            raise DoorFault(f"{subject}: {exc}") from None
        started = time.monotonic()
        for bit in frame:
            line = self._d1 if bit else self._d0
            line.set(False)
            _wait(BIT_LOW_S)
            line.set(True)
            _wait(BIT_INTERVAL_S)
        return started

    pulse = open  # the controller decides how long its door stays open

    def relock(self) -> None:
        pass

    def hold(self) -> None:
        pass

    def door_state(self) -> str | None:
        return None

    def close(self) -> None:
        for line in (self._d0, self._d1):
            line.release()


def _wait(seconds: float) -> None:
    # sleep() cannot be trusted below a millisecond; a short busy wait keeps Wiegand's 50 us pulses near 50 us.
    end = time.perf_counter() + seconds
    if seconds > 1e-3:
        time.sleep(seconds - 5e-4)
    while time.perf_counter() < end:
        pass
