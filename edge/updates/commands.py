"""The update commands a device takes (issue 29): checked once whatever they install, then prepared by the kind's
installer on a thread of its own while the node goes on.

A `cmd/update` (wire/updates.py) is refused, with its reason in an `update` event, when it is forged or for another
device, replayed (a sequence number at or below the last one taken, kept on disk beside the outbox), of a kind this
device does not take, not for what this device runs, or older than the version running without being signed as a
rollback. One for the version running is applied at once (nothing to do). Anything else goes to its installer
(edge/updates/packs.py, edge/updates/software.py), which fetches, checks and prepares it; the node then switches to
it (edge/node/managed.py) and says `applied`, or `refused` and why.

A command the device was killed while preparing is not taken yet: its retained copy, come again after the restart,
is prepared again.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.link.at_rest import read_json, write_atomically
from edge.link.events import DeviceEvents
from wire.bundle import DeviceBundle
from wire.commands import CommandRefused
from wire.events import UpdateEvent
from wire.signing import public_key_from_text
from wire.updates import UpdateCommand, open_update

log = logging.getLogger(__name__)


class UpdateRefused(Exception):
    """An installer cannot prepare the update; `self_test` if one ran."""

    def __init__(self, reason: str, self_test: float | None = None):
        super().__init__(reason)
        self.self_test = self_test


class Installer(Protocol):
    """What installs one kind of update."""

    @property
    def running(self) -> int:
        """The version running (0: what the device came with)."""

    def refuses(self, command: UpdateCommand) -> str | None:
        """Why this device cannot take `command` at all, or None."""

    def prepare(self, command: UpdateCommand, payload: bytes) -> float | None:
        """Fetch, check and make ready what `command` installs (its self-test's score, if any); UpdateRefused."""


@dataclass
class Prepared:
    """An update fetched and checked, waiting for the node to switch to it."""

    command: UpdateCommand
    self_test: float | None


class Updates:
    """This device's update commands. One object for the life of the process: each link the node opens hands it
    its commands (`handle`) and its events (`events`)."""

    def __init__(self, bundle: DeviceBundle, state_path: Path, installers: dict[str, Installer]):
        self.bundle, self.installers = bundle, installers
        self.state_path = Path(state_path)  # the last sequence number taken, beside the outbox
        self.events: DeviceEvents | None = None
        self.ready = threading.Event()  # set while a prepared update waits
        self._prepared: Prepared | None = None
        self._latest = 0  # the newest command's sequence: a preparation for an older one is dropped
        self._lock = threading.Lock()

    @property
    def sequence(self) -> int:
        """The last sequence number taken (0: none yet)."""
        return int((read_json(self.state_path) or {}).get("sequence") or 0)

    def handle(self, payload: bytes) -> None:
        """A `cmd/update` payload from the broker (an empty one: the gateway cleared it)."""
        if not payload:
            return
        try:
            command = open_update(payload, self.bundle.device, public_key_from_text(self.bundle.gateway_key))
        except CommandRefused as exc:
            self._report(None, "refused", reason=f"{exc.reason}: not applied ({exc})")
            return
        with self._lock:
            taken = self.sequence
            if command.sequence == taken or command.sequence == self._latest:
                return  # the retained copy of one taken already, or being prepared
            if command.sequence < taken:
                return self._report(command, "refused", reason=f"replayed: update {command.sequence} is older "
                                                               f"than update {taken}, taken already")
            installer = self.installers.get(command.kind)
            if installer is None:
                self.take(command.sequence)
                return self._report(command, "refused", reason=f"this device does not take {command.kind} updates "
                                                               "(software: run it with `facegate edge launch`)")
            running = installer.running
            why = installer.refuses(command)
            if why is None and command.version < running and not command.rollback:
                why = (f"downgrade: version {command.version} is older than version {running}, running, and not "
                       "signed as a rollback")
            if why is not None or command.version == running:
                self.take(command.sequence)
                self._prepared = None
                self.ready.clear()
                return self._report(command, "refused" if why else "applied", reason=why or "running it already")
            self._latest = command.sequence  # taken once prepared: a kill meanwhile lets its retained copy in again
            self._prepared = None
            self.ready.clear()
        log.info("update %d: %s %s version %d%s", command.sequence, command.kind, command.name, command.version,
                 " (a rollback)" if command.rollback else "")
        threading.Thread(target=self._prepare, args=(command, payload, installer), name="update",
                         daemon=True).start()

    def take(self, sequence: int) -> None:
        """Record `sequence` as taken (on disk, atomically): anything at or below it is a replay from now on."""
        self._latest = max(self._latest, sequence)
        write_atomically(self.state_path, json.dumps({"sequence": sequence}).encode())

    def waiting(self) -> Prepared | None:
        """The prepared update waiting to be switched to, if any (the caller then says `applied` or `refused`)."""
        with self._lock:
            prepared, self._prepared = self._prepared, None
            self.ready.clear()
            return prepared

    def applied(self, prepared: Prepared) -> None:
        """The device runs the prepared update now."""
        self.take(prepared.command.sequence)
        if self.events and prepared.command.kind == "pack":
            self.events.pack_version = prepared.command.version
        self._report(prepared.command, "applied", self_test=prepared.self_test)

    def refused(self, prepared: Prepared, reason: str) -> None:
        """The device could not run the prepared update and runs what it ran before again."""
        self.take(prepared.command.sequence)
        self._report(prepared.command, "refused", reason=reason, self_test=prepared.self_test)

    def _prepare(self, command: UpdateCommand, payload: bytes, installer: Installer) -> None:
        try:
            score = installer.prepare(command, payload)
        except UpdateRefused as exc:
            log.error("update %d: %s", command.sequence, exc)
            self.refused(Prepared(command, exc.self_test), str(exc))
            return
        except Exception as exc:  # a pack that does not even load, a venv that cannot be made: refused, node goes on
            log.exception("update %d failed", command.sequence)
            self.refused(Prepared(command, None), f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            if command.sequence != self._latest or command.sequence <= self.sequence:
                return  # a newer command came meanwhile, or this one was settled (a release undone, say)
            self._prepared = Prepared(command, score)
            self.ready.set()

    def _report(self, command: UpdateCommand | None, outcome: str, reason: str = "",
                self_test: float | None = None) -> None:
        if outcome == "refused":
            log.error("update %s refused: %s", command.sequence if command else "message", reason)
        kind = command.kind if command else "pack"
        installer = self.installers.get(kind)
        if self.events:
            self.events.append(UpdateEvent, update_kind=kind, name=command.name if command else self.bundle.model_pack,
                               sequence=command.sequence if command else None,
                               version=command.version if command else None, outcome=outcome,
                               running=installer.running if installer else 0,
                               rollout=command.rollout if command else None, self_test=self_test,
                               reason=reason[:1000])
