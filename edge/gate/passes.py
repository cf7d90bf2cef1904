"""Passes at the gate: whether a recognised face, or a QR ticket shown, may come in here, now -- decided on the
device, with no one to ask.

Faces: the gallery names, for each subject who holds passes at the site, every pass's window, gates and entries
(`wire.gallery.Admit`). A subject it does not name is admitted by their consent alone (staff, regulars). For one
it names, an `in` lane asks for a pass that is valid now (by this device's clock), opens this gate, and has an
entry left; the first such pass is the one used. Otherwise the verdict says why not, most telling first:
`used` (a pass for here and now, its entries spent), `wrong_gate` (valid now, not here), `no_pass` (none valid
now: not yet, expired, or cancelled).

QR tickets (wire/tickets.py) carry their own window, gates and entries, signed with the site's ticket key: one
not signed with it is `forged`; the ticket list (`cmd/tickets`) adds what a ticket cannot say -- cancelled
(`no_pass`), or its entries spent at any gate. Leaving is never refused: `out` lanes ask for nothing.

Entries: a pass's entries used are the larger of what the gateway had stored when it sent the gallery or the
ticket list, and those made here, kept in `entries.db` beside the outbox so that a restart forgets none. While
the gateway is away, a single entry may be used once at each gate of the site, never twice at one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from wire.gallery import Admit
from wire.tickets import Ticket, TicketError, TicketList, epoch, open_ticket


class Admissions:
    """The passes of one device's gallery and ticket list, and the entries made through it."""

    def __init__(self, device: str | None, admits: dict[str, list[Admit]] | None = None,
                 clock: Callable[[], float] = time.time, entries_path: Path | None = None):
        self.device = device
        self.clock = clock
        self._admits: dict[str, list[tuple[Admit, float, float]]] = {}
        self.tickets = TicketList({}, {}, frozenset())  # none yet: every ticket is refused as forged
        self._db = None
        if entries_path is not None:
            entries_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(entries_path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(entries_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")  # an entry made must survive a power cut
            self._db.execute("CREATE TABLE IF NOT EXISTS entries (pass TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                             "until REAL NOT NULL)")
            self._db.execute("DELETE FROM entries WHERE until < ?", (clock() - 86400,))  # long over: forgotten
        self._entered: dict[str, int] = dict(self._db.execute("SELECT pass, count FROM entries")) if self._db else {}
        self._until: dict[str, float] = {}  # pass -> its end, for the passes found valid
        self.use(admits or {})

    def use(self, admits: dict[str, list[Admit]]) -> None:
        """A new gallery's passes of faces."""
        self._admits = {s: [(a, epoch(a.valid_from), epoch(a.valid_until)) for a in passes]
                        for s, passes in admits.items()}

    def use_tickets(self, tickets: TicketList) -> None:
        """A new ticket list."""
        self.tickets = tickets

    def _spent(self, pass_id: str, entries: int | None, stored: int) -> bool:
        return entries is not None and max(stored, self._entered.get(pass_id, 0)) >= entries

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
            if self._spent(admit.pass_id, admit.entries, admit.used):
                refusal, concerned = "used", admit.pass_id
                continue
            self._until[admit.pass_id] = end
            return None, admit.pass_id
        return refusal, concerned

    def check_ticket(self, text: str) -> tuple[str | None, Ticket | None]:
        """(refusal, ticket) for a QR ticket's text: None if it may come in now, else why not."""
        try:
            ticket = open_ticket(text, self.tickets.site_keys)
        except TicketError:
            return "forged", None
        if ticket.pass_id in self.tickets.cancelled or not ticket.valid_from <= self.clock() < ticket.valid_until:
            return "no_pass", ticket
        if ticket.gates is not None and self.device not in ticket.gates:
            return "wrong_gate", ticket
        if self._spent(ticket.pass_id, ticket.entries, self.tickets.spent.get(ticket.pass_id, 0)):
            return "used", ticket
        self._until[ticket.pass_id] = ticket.valid_until
        return None, ticket

    def entered(self, pass_id: str | None) -> None:
        """Someone came in on `pass_id`: one of its entries is used (written down before the door is asked)."""
        if pass_id is None:
            return
        self._entered[pass_id] = self._entered.get(pass_id, 0) + 1
        if self._db is not None:
            self._db.execute("INSERT INTO entries VALUES (?, ?, ?) ON CONFLICT(pass) DO UPDATE SET count = excluded.count",
                             (pass_id, self._entered[pass_id], self._until.get(pass_id, self.clock())))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
