"""A gate node run on the gateway's configuration and model pack (issue 29): `facegate edge run --bundle`.

The node starts on the last configuration it applied (kept on disk by edge/link/config_sync.py), or on the local
TOML file if it never had one. Between frames it looks for a newer version:

- one that changes only what the running loop reads as it goes -- the policy and its thresholds, quality,
  tracker, motion, the gate's rules -- is applied there and then (`live`): no camera stops, no track is lost;
- anything else (cameras, doors, the model pack, liveness, the link's own settings) restarts the node cleanly:
  cameras and doors stop, the node is built again on the new settings and must show it works -- every camera
  delivers a frame within its open timeout -- before the version is confirmed and kept (`restart`). If it does
  not, the node is built again on the last good settings, and the gateway is told exactly why.

A model pack the gateway sent is switched to the same way, once it is fetched and self-tested (edge/updates/
packs.py): the node restarts on it and must show it works -- every camera delivers a frame and the detector runs on
it -- or it switches back to the pack it ran before, by itself, and says why. A release of FaceGate, once installed
beside this one (edge/updates/software.py), is switched to by stopping the node and leaving to the launcher, which
starts the new release on trial: the same test, passed, tells the launcher it is healthy.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.link.config_sync import Pending, config_path, starting_config
from edge.node.gate_node import GateNode, build_gate
from edge.node.packs import open_pack
from edge.node.runner import RunSummary, StatusLine
from edge.settings import EdgeConfig
from edge.updates.commands import Prepared, Updates
from edge.updates.packs import PackInstaller
from edge.updates.software import HOME_ENV, SWITCH_EXIT, SoftwareInstaller
from wire.bundle import DeviceBundle

log = logging.getLogger(__name__)

# What the running loop reads as it goes (edge/vision/pipeline.py `retune`, the gate's rules); every other section
# is read when the node is built. `exam` and `kiosk` are not a gate's.
LIVE = frozenset({"policy", "quality", "tracker", "motion", "gate", "exam", "kiosk"})
SETTLE_S = 5.0  # beyond the slowest camera's open timeout, for its first frame to arrive


def needs_restart(old: EdgeConfig, new: EdgeConfig) -> list[str]:
    """The sections that differ between `old` and `new` and are read only when the node is built."""
    a, b = old.model_dump(), new.model_dump()  # Python values: a door's new password counts as a change
    return sorted(section for section in a if section not in LIVE and a[section] != b[section])


@dataclass
class _Trial:
    """A node restarted on something new, on trial: what, until when, and what to do when it passes or fails."""

    what: str
    window: float
    until: float
    detection: bool  # it passes only once the detector has run on every camera (a new pack)
    passed: Callable[[], None]
    failed: Callable[[str], None]  # builds the node again on what ran before, and says why


class ManagedGate:
    """Runs a gate node, applying each configuration and model pack the gateway sends, live or by a clean
    restart."""

    def __init__(self, make_config: Callable[[dict | None], EdgeConfig], sources: list[str] | None,
                 bundle: DeviceBundle, *, gallery: Path | None = None, mqtt: str | None = None,
                 realtime: bool = False):
        self.make_config, self.sources, self.bundle = make_config, sources, bundle
        self.gallery, self.mqtt, self.realtime = gallery, mqtt, realtime
        self.refused: set[int] = set()  # configuration versions that did not run here: never tried again
        self._next: Callable[[], None] | None = None  # what the node stopped for: a restart on something new
        self._trial: _Trial | None = None
        self._failed: str | None = None  # why the node on trial failed
        self.exit_code: int | None = None  # SWITCH_EXIT: stopped for the launcher to start another release
        config = starting_config(bundle, make_config)
        self.packs = PackInstaller(bundle, config.models, config.quality)
        self.software = SoftwareInstaller(bundle, os.environ.get(HOME_ENV))
        self.updates = Updates(bundle, config_path(bundle, config.events.outbox).with_name("updates.json"),
                               {"pack": self.packs, "software": self.software})
        self.node: GateNode | None = self._build(config, take_retained=False)
        self.node.link.configs.started()
        self._release_trial()  # before the retained update command: it may be the release just undone
        if self.node.link.update:
            self.updates.handle(self.node.link.update)

    def run(self, emit: Callable[[dict], None], status: StatusLine | None = None,
            max_frames: int | None = None) -> RunSummary:
        """Run until the cameras' sources end (or Ctrl-C, or `max_frames`), through every configuration change and
        pack update, or until it switched releases (`exit_code` SWITCH_EXIT)."""
        while True:
            try:
                summary = self.node.run(emit, max_frames=max_frames, status=status, should_stop=self._between_frames)
            except Exception as exc:  # the loop itself failed: on trial, that is the trial failing
                if self._trial is None:
                    raise
                log.exception("the node on %s stopped", self._trial.what)
                self._failed = f"the node stopped on it: {exc}"[:1000]
            if self._failed is not None:
                trial, why = self._trial, self._failed
                self._trial = self._failed = None
                trial.failed(why)
            elif self._next is not None:
                step, self._next = self._next, None
                step()
            else:
                return summary
            if self.exit_code is not None:  # another release runs next: the launcher starts it
                return summary

    def close(self) -> int:
        """Stop the node (see GateNode.close); events left in the outbox."""
        return self.node.close() if self.node else 0

    def log_summary(self, summary: RunSummary) -> int:
        return self.node.log_summary(summary)

    def _build(self, config: EdgeConfig, take_retained: bool = True) -> GateNode:
        """The gate node on `config` and the pack version running, wired to take the gateway's updates (and the one
        retained for it, with `take_retained`)."""
        running = self.packs.installed.open_running() if config.models.pack == self.bundle.model_pack else None
        pack = open_pack(config, len(config.camera_list(self.sources)), running)
        node = build_gate(config, self.sources, gallery=self.gallery, bundle=self.bundle, mqtt=self.mqtt,
                          realtime=self.realtime, pack=pack)
        link = node.link
        link.events.pack_version = running.version if running else 0
        self.updates.events = link.events
        link.on_update = self.updates.handle
        if link.update and take_retained:  # retained: it came while the node was being built
            self.updates.handle(link.update)
        return node

    def _restart(self, config: EdgeConfig, what: str, forget: set[int] = frozenset()) -> None:
        """Stop the node and build it again on `config` (`what` for the log)."""
        log.info("restarting the node on %s", what)
        if self.node is not None:  # None: closed already, by a restart whose build failed
            self.node.close()
            self.node = None
        self.node = self._build(config)
        self.node.link.configs.forget(self.refused | forget)

    def _try(self, what: str, build: Callable[[], None], passed: Callable[[], None],
             failed: Callable[[str], None], detection: bool = False) -> None:
        """Restart the node on something new (`build`), on trial; `failed` if it does not even start."""
        try:
            build()
        except Exception as exc:  # a door that cannot be opened, a pack that is not there ...
            log.exception("%s: the node does not start on it", what)
            failed(f"the node does not start on it: {exc}"[:1000])
            return
        window = SETTLE_S + max(f.camera.settings.open_timeout_s for f in self.node.feeds)
        self._trial = _Trial(what, window, time.monotonic() + window, detection, passed, failed)

    def _config_restart(self, pending: Pending, config: EdgeConfig) -> None:
        good = self.node.config
        what = f"configuration version {pending.version}"

        def failed(why: str) -> None:
            self.refused.add(pending.version)
            self._restart(good, "the last good configuration")
            self.node.link.configs.refused(pending, why)

        self._try(what, lambda: self._restart(config, what, {pending.version}),
                  lambda: self.node.link.configs.applied(pending, "restart"), failed)

    def _pack_switch(self, prepared: Prepared) -> None:
        config = self.node.config
        command = prepared.command
        what = f"pack {command.name} version {command.version}"
        before = self.packs.installed.switch(command.version)

        def failed(why: str) -> None:
            self.packs.installed.restore(before)
            self._restart(config, f"pack {command.name} version {before.get('version') or 0}, as before")
            self.updates.refused(prepared, why)

        self._try(what, lambda: self._restart(config, what), lambda: self.updates.applied(prepared), failed,
                  detection=True)

    def _release_switch(self, prepared: Prepared) -> None:
        """Stop the node and leave the launcher to start the prepared release (on trial)."""
        self.node.close()
        self.node = None
        self.software.switch(prepared)
        self.exit_code = SWITCH_EXIT

    def _release_trial(self) -> None:
        """At start: say what became of a release switched to and undone by the launcher; or, this process being
        the release switched to, put it on trial -- passed, the launcher is told it is healthy."""
        undone = self.software.undone()
        if undone:
            self.updates.refused(undone[0], f"health check failed: {undone[1]}")
        prepared = self.software.on_trial()
        if prepared is None:
            return

        def passed() -> None:
            self.software.healthy()
            self.updates.applied(prepared)

        def failed(why: str) -> None:
            sys.exit(f"release {prepared.command.version} is not healthy: {why}")  # the launcher switches back

        window = SETTLE_S + max(f.camera.settings.open_timeout_s for f in self.node.feeds)
        self._trial = _Trial(f"FaceGate {prepared.command.release}", window, time.monotonic() + window, True,
                             passed, failed)

    def _between_frames(self) -> bool:
        """Called by the loop between frames (and while it waits for one): True to stop the node for a restart."""
        if self._trial is not None:
            return self._judge_trial()
        if self.updates.ready.is_set():
            prepared = self.updates.waiting()
            if prepared is not None:
                command = prepared.command
                log.info("%s %s version %d ready: stopping the node for it", command.kind, command.name,
                         command.version)
                self._next = (lambda: self._pack_switch(prepared)) if command.kind == "pack" \
                    else (lambda: self._release_switch(prepared))
                return True
        configs = self.node.link.configs
        if not configs.arrived.is_set():
            return False
        pending = configs.take()
        if pending is None or pending.version in self.refused:
            return False
        try:
            config = self.make_config(pending.document)
        except ValueError as exc:  # the document with this device's environment on top
            self.refused.add(pending.version)
            configs.refused(pending, f"invalid here: {exc}"[:1000])
            return False
        restart = needs_restart(self.node.config, config)
        if restart:
            log.info("configuration version %d changes %s: restarting the node", pending.version, ", ".join(restart))
            self._next = lambda: self._config_restart(pending, config)
            return True
        self.node.retune(config)
        configs.applied(pending, "live")
        return False

    def _judge_trial(self) -> bool:
        """A node restarted on something new works once every camera has delivered a frame (and, for a new pack,
        the detector has run on it); it fails if a camera cannot be opened or is lost, or says nothing until the
        deadline."""
        trial = self._trial
        troubled = [f"camera {f.id}: {f.trouble}" for f in self.node.feeds if f.trouble]
        waiting = [f.id for f in self.node.feeds if f.camera.stats.frames_read == 0
                   or (trial.detection and f.pipeline.stats.detect_runs == 0)]
        if troubled:
            self._failed = "; ".join(troubled)[:1000]
        elif waiting and time.monotonic() > trial.until:
            self._failed = f"camera {', '.join(waiting)}: no frame within {trial.window:.0f} s of the restart"
        elif not waiting:
            self._trial = None
            trial.passed()
            return False
        else:
            return False
        return True
