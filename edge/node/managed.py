"""A gate node run on the gateway's configuration (issue 29): `facegate edge run --bundle`.

The node starts on the last configuration it applied (kept on disk by edge/link/config_sync.py), or on the local
TOML file if it never had one. Between frames it looks for a newer version:

- one that changes only what the running loop reads as it goes -- the policy and its thresholds, quality,
  tracker, motion, the gate's rules -- is applied there and then (`live`): no camera stops, no track is lost;
- anything else (cameras, doors, the model pack, liveness, the link's own settings) restarts the node cleanly:
  cameras and doors stop, the node is built again on the new settings and must show it works -- every camera
  delivers a frame within its open timeout -- before the version is confirmed and kept (`restart`). If it does
  not, the node is built again on the last good settings, and the gateway is told exactly why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from edge.link.config_sync import Pending, starting_config
from edge.node.gate_node import GateNode, build_gate
from edge.node.runner import RunSummary, StatusLine
from edge.settings import EdgeConfig
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


class ManagedGate:
    """Runs a gate node, applying each configuration the gateway sends, live or by a clean restart."""

    def __init__(self, make_config: Callable[[dict | None], EdgeConfig], sources: list[str] | None,
                 bundle: DeviceBundle, *, gallery: Path | None = None, mqtt: str | None = None,
                 realtime: bool = False):
        self.make_config, self.sources, self.bundle = make_config, sources, bundle
        self.gallery, self.mqtt, self.realtime = gallery, mqtt, realtime
        self.refused: set[int] = set()  # versions that did not run here: never tried again
        self._next: tuple[Pending, EdgeConfig] | None = None  # a version that needs the node restarted
        # A restart on trial: the version, the last good settings, and the seconds its cameras have to show a frame
        self._trial: tuple[Pending, EdgeConfig, float] | None = None
        self._trial_until = 0.0
        self._failed: str | None = None  # why the version on trial failed
        self.node: GateNode | None = build_gate(starting_config(bundle, make_config), sources, gallery=gallery,
                                                bundle=bundle, mqtt=mqtt, realtime=realtime)
        self.node.link.configs.started()

    def run(self, emit: Callable[[dict], None], status: StatusLine | None = None,
            max_frames: int | None = None) -> RunSummary:
        """Run until the cameras' sources end (or Ctrl-C, or `max_frames`), through every configuration change."""
        while True:
            summary = self.node.run(emit, max_frames=max_frames, status=status, should_stop=self._between_frames)
            if self._failed is not None:
                pending, good, _ = self._trial
                self._restart(good)
                self.node.link.configs.refused(pending, self._failed)
                self._trial = self._failed = None
            elif self._next is not None:
                pending, config = self._next
                self._next = None
                good = self.node.config
                try:
                    self._restart(config, pending)
                except Exception as exc:  # a door that cannot be opened, a pack that is not there ...
                    log.exception("configuration version %d: the node does not start on it", pending.version)
                    self._restart(good)
                    self.refused.add(pending.version)
                    self.node.link.configs.refused(pending, f"the node does not start on it: {exc}"[:1000])
                    continue
                window = SETTLE_S + max(f.camera.settings.open_timeout_s for f in self.node.feeds)
                self._trial, self._trial_until = (pending, good, window), time.monotonic() + window
            else:
                return summary

    def close(self) -> int:
        """Stop the node (see GateNode.close); events left in the outbox."""
        return self.node.close()

    def log_summary(self, summary: RunSummary) -> int:
        return self.node.log_summary(summary)

    def _restart(self, config: EdgeConfig, pending: Pending | None = None) -> None:
        """Stop the node and build it again on `config` (`pending`'s document, or the last good one)."""
        log.info("restarting the node on %s", f"configuration version {pending.version}" if pending
                 else "the last good configuration")
        if self.node is not None:  # None: closed already, by a restart whose build failed
            self.node.close()
            self.node = None
        self.node = build_gate(config, self.sources, gallery=self.gallery, bundle=self.bundle, mqtt=self.mqtt,
                               realtime=self.realtime)
        self.node.link.configs.forget(self.refused | ({pending.version} if pending else set()))

    def _between_frames(self) -> bool:
        """Called by the loop between frames (and while it waits for one): True to stop the node for a restart."""
        if self._trial is not None:
            return self._judge_trial()
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
            self._next = (pending, config)
            return True
        self.node.retune(config)
        configs.applied(pending, "live")
        return False

    def _judge_trial(self) -> bool:
        """A node restarted on a new version works once every camera has delivered a frame; it fails if a camera
        cannot be opened or lost, or says nothing until the deadline."""
        pending, _, window = self._trial
        troubled = [f"camera {f.id}: {f.trouble}" for f in self.node.feeds if f.trouble]
        waiting = [f.id for f in self.node.feeds if f.camera.stats.frames_read == 0]
        if troubled:
            self._failed = "; ".join(troubled)[:1000]
        elif waiting and time.monotonic() > self._trial_until:
            self._failed = f"camera {', '.join(waiting)}: no frame within {window:.0f} s of the restart"
        elif not waiting:
            self.node.link.configs.applied(pending, "restart")
            self._trial = None
            return False
        else:
            return False
        self.refused.add(pending.version)
        return True
