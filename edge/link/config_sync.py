"""The device's settings, as the gateway sends them (issue 29).

A `cmd/config` message (retained: the newest waits on every reconnect) is checked -- the gateway's signature, this
device, a version newer than the one running -- opened (it is sealed to this device) and validated against the
settings schema; then it waits for the node to apply it (`take`, edge/node/managed.py). Only once the node runs on
it is it written to disk, exactly as received (signed and sealed: no door login readable at rest), replacing the
last good one atomically, so a device that restarts runs the last version it applied. Every outcome goes to the
gateway as a `config` event: applied (and how), or refused and why, with the version the device still runs.

Nothing older than the running version is ever applied: going back is a new version with the earlier content
(wire/device_config.py), so a replayed message, or a retained one from before a rollback, is refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.link.at_rest import write_atomically
from edge.link.events import DeviceEvents
from edge.settings import EdgeConfig
from wire.bundle import DeviceBundle
from wire.commands import CommandRefused
from wire.device_config import ConfigInvalid, open_config, validate_document
from wire.events import ConfigEvent
from wire.signing import public_key_from_text

log = logging.getLogger(__name__)


def config_path(bundle: DeviceBundle, outbox: Path | None) -> Path:
    """Where a device keeps the configuration it applied last: beside its outbox (`events.outbox`, by default
    var/edge/<device>/outbox.db)."""
    return (Path(outbox).parent if outbox else Path("var/edge") / bundle.device) / "config.signed"


@dataclass(frozen=True)
class Pending:
    """A verified, valid configuration the node has not applied yet."""

    version: int
    document: dict
    payload: bytes  # as received: what is kept on disk once applied


class ConfigSync:
    """This device's configuration from the gateway: the version running, and the next one waiting."""

    def __init__(self, bundle: DeviceBundle, path: Path, events: DeviceEvents | None = None):
        self.bundle = bundle
        self.path = Path(path)
        self.events = events  # set by the link once its outbox is open
        self.running = 0  # the version applied; 0: the local TOML file
        self.arrived = threading.Event()  # set while a version waits to be applied
        self._pending: Pending | None = None
        self._refused: set[int] = set()  # versions refused once: the retained copy is not refused again
        self._lock = threading.Lock()

    def load(self) -> dict | None:
        """The document of the version applied last (kept on disk), checked as a fresh one; None without one."""
        if not self.path.exists():
            return None
        try:
            command, document = self._open(self.path.read_bytes())
            validate_document(document)
        except (CommandRefused, ConfigInvalid) as exc:
            log.error("configuration file %s refused (%s); running the local settings", self.path, exc)
            return None
        self.running = command.version
        return document

    def handle(self, payload: bytes) -> None:
        """A `cmd/config` payload from the broker (an empty one: the gateway cleared it)."""
        if not payload:
            return
        try:
            command, document = self._open(payload)
        except CommandRefused as exc:
            self._report(None, "refused", reason=f"{exc.reason}: not applied ({exc})")
            return
        version = command.version
        with self._lock:
            if version == self.running or version in self._refused or (
                    self._pending and version == self._pending.version):
                return  # the retained copy of what we run, or already refused
            if version < self.running:
                self._refused.add(version)
                reason = f"replayed: version {version} is older than version {self.running}, which this device runs"
                self._report(version, "refused", reason=reason)
                return
            try:
                validate_document(document)
            except ConfigInvalid as exc:
                self._refused.add(version)
                self._report(version, "refused", reason=f"invalid: {exc}")
                return
            if self._pending is None or version > self._pending.version:
                self._pending = Pending(version, document, payload)
                self.arrived.set()
        log.info("configuration version %d received (by %s%s)", version, command.by,
                 f", a rollback to version {command.rollback_of}" if command.rollback_of else "")

    def take(self) -> Pending | None:
        """The version waiting to be applied, if any (the node applies it, then calls `applied` or `refused`)."""
        with self._lock:
            pending, self._pending = self._pending, None
            self.arrived.clear()
            return pending

    def applied(self, pending: Pending, how: str) -> None:
        """The node runs `pending` now (`how`: live or restart): keep it on disk, and say so."""
        self._keep(pending.payload)
        with self._lock:
            self.running = pending.version
            if self.events:
                self.events.config_version = pending.version
            if self._pending and self._pending.version <= pending.version:  # its retained copy, come again
                self._pending = None
                self.arrived.clear()
        log.info("configuration version %d applied (%s)", pending.version, how)
        self._report(pending.version, "applied", how=how)

    def refused(self, pending: Pending, reason: str) -> None:
        """The node could not run `pending` and runs the last good version again."""
        with self._lock:
            self._refused.add(pending.version)
        self._report(pending.version, "refused", reason=reason)

    def keep_for_next_start(self) -> int | None:
        """A device that runs one job per process (an exam session): keep the version waiting, if any, on disk, so
        that the next start runs on it (and says so then, `started`); its version, or None."""
        pending = self.take()
        if pending is None:
            return None
        self._keep(pending.payload)
        log.info("configuration version %d kept: this device runs on it from its next start", pending.version)
        return pending.version

    def _keep(self, payload: bytes) -> None:
        """Write `payload` as the configuration to start on, atomically and owner-only (it holds door logins)."""
        write_atomically(self.path, payload)

    def forget(self, versions: set[int]) -> None:
        """Never apply these versions (they failed on this device): not even their retained copy, come again."""
        with self._lock:
            self._refused |= versions
            if self._pending and self._pending.version in versions:
                self._pending = None
                self.arrived.clear()

    def started(self) -> None:
        """Say which version the node started on (after a restart of the device, say)."""
        if self.running:
            self._report(self.running, "applied", how="start")

    def _report(self, version: int | None, outcome: str, how: str | None = None, reason: str = "") -> None:
        if outcome == "refused":
            log.error("configuration %s refused: %s; running version %d", version if version else "message",
                      reason, self.running)
        if self.events:
            self.events.append(ConfigEvent, version=version, outcome=outcome, how=how, running=self.running,
                               reason=reason[:1000])

    def _open(self, payload: bytes):
        return open_config(payload, self.bundle.device, public_key_from_text(self.bundle.gateway_key),
                           self.bundle.gallery_key)


def starting_config(bundle: DeviceBundle, make_config: Callable[[dict | None], EdgeConfig]) -> EdgeConfig:
    """What a device starts on: the configuration version it applied last (kept on disk beside its outbox), else
    its local file (`make_config(None)`). `make_config(document)` builds the settings (the environment on top)."""
    local = make_config(None)
    document = ConfigSync(bundle, config_path(bundle, local.events.outbox)).load()
    if document is not None:
        try:
            return make_config(document)
        except ValueError as exc:
            log.error("the configuration kept on disk does not load here (%s): starting on the local one", exc)
    return local
