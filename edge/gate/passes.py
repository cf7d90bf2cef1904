"""Passes at the gate: whether a face the gallery recognised may come in here, now -- decided on the device.

The gallery names, for each subject who holds passes at the site, every pass's window, gates and entries
(`wire.gallery.Admit`). A subject it does not name is admitted by their consent alone (staff, regulars). For one
it names, an `in` lane asks for a pass that is valid now (by this device's clock), opens this gate, and has an
entry left; the first such pass is the one used. Otherwise the verdict says why not, most telling first:
`used` (a pass for here and now, its entries spent), `wrong_gate` (valid now, not here), `no_pass` (none valid
now: not yet, expired, or cancelled). Leaving is never refused: `out` lanes ask for nothing.

Entries are counted on the device from the gallery's figure (what the gateway had recorded when it made the
gallery) plus the entries made here since. Another gate's entries arrive with the next gallery: while the
gateway is away, a single entry may be used once at each gate of the site, never twice at one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from wire.gallery import Admit


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Admissions:
    """The passes of one device's gallery, and the entries made through it since that gallery came."""

    def __init__(self, device: str | None, admits: dict[str, list[Admit]] | None = None,
                 clock: Callable[[], float] = time.time):
        self.device = device
        self.clock = clock
        self._admits: dict[str, list[tuple[Admit, float, float]]] = {}
        self._entered: dict[str, int] = {}  # pass -> entries made here since the gallery came
        self.use(admits or {})

    def use(self, admits: dict[str, list[Admit]]) -> None:
        """A new gallery's passes. Its counts include the entries made here that the gateway had stored by then,
        so the local counts start again from it."""
        self._admits = {s: [(a, _epoch(a.valid_from), _epoch(a.valid_until)) for a in passes]
                        for s, passes in admits.items()}
        self._entered = {}

    def check(self, subject: str | None) -> tuple[str | None, str | None]:
        """(refusal, pass): None and the pass to use if `subject` may come in now (None for a subject admitted by
        consent alone); else `no_pass`, `wrong_gate` or `used`, and the pass it concerns, if one."""
        passes = self._admits.get(subject) if subject is not None else None
        if passes is None:
            return None, None
        now = self.clock()
        refusal, concerned = "no_pass", None
        for admit, start, end in passes:
            if not start <= now < end:
                continue
            if admit.gates is not None and self.device not in admit.gates:
                if refusal == "no_pass":
                    refusal, concerned = "wrong_gate", admit.pass_id
                continue
            if admit.entries is not None and admit.used + self._entered.get(admit.pass_id, 0) >= admit.entries:
                refusal, concerned = "used", admit.pass_id
                continue
            return None, admit.pass_id
        return refusal, concerned

    def entered(self, pass_id: str | None) -> None:
        """Someone came in on `pass_id`: one of its entries is used."""
        if pass_id is not None:
            self._entered[pass_id] = self._entered.get(pass_id, 0) + 1
