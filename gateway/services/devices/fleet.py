"""The fleet at a glance (issue 29): what runs on each device -- the FaceGate release, the model pack, the
configuration version -- and whether it has what the centre sent it; per site, the same counted.

A device's configuration is `current` when it runs the newest version made for it, `lagging` while it has not
applied it yet (offline, or still restarting), `refused` when it said why not (it runs its last good version),
and `local` when the centre never sent it one (its local file). Its model pack update, likewise: `current` (it
runs what it was last sent), `updating` (sent, not answered yet: fetching, self-testing, or offline), `refused`
(with its reason) or `none` (never sent one: it runs the pack it came with).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.storage import Store

STATES = ("current", "lagging", "refused", "local")
UPDATE_STATES = ("current", "updating", "refused", "none")


@dataclass(frozen=True)
class FleetDevice:
    id: str
    site: str
    kind: str
    online: bool
    software: str | None  # from its last heartbeat (None: not said)
    pack: str
    config_latest: int | None  # the newest version made for it
    config_running: int | None  # what it says it runs (0: its local file; None: not said)
    config_state: str  # one of STATES
    reason: str | None  # refused: the device's words
    since: str | None  # lagging: when the version it has not applied was made
    last_heartbeat_at: str | None
    pack_version: int | None = None  # the pack version it says it runs (0: the one it came with; None: not said)
    update_state: str = "none"  # one of UPDATE_STATES
    update_kind: str | None = None  # what the newest update sent to it installs: "pack" | "software"
    update_version: int | None = None  # its version (a pack's, or a release's number)
    update_reason: str | None = None  # refused: the device's words


@dataclass
class FleetSite:
    site: str
    devices: int = 0
    online: int = 0
    configs: Counter = field(default_factory=Counter)  # state -> devices
    software: Counter = field(default_factory=Counter)  # release -> devices
    packs: Counter = field(default_factory=Counter)  # "pack vN" -> devices ("pack": version not said)
    updates: Counter = field(default_factory=Counter)  # update state -> devices


def fleet(store: Store) -> tuple[list[FleetSite], list[FleetDevice]]:
    """Every active device and every site's counts (three queries, however large the fleet)."""
    newest = store.device_configs.newest_of_every_device()
    updates = store.updates.newest_of_every_device()
    devices, sites = [], {}
    for d in store.devices.all():
        if not d.active:
            continue
        beat = d.last_heartbeat or {}
        latest = newest.get(d.id)
        running = d.config_version if d.config_version is not None else beat.get("config_version")
        if latest is None:
            state = "local"
        elif latest.outcome == "refused" and latest.version != running:
            state = "refused"
        elif running == latest.version:
            state = "current"
        else:
            state = "lagging"
        sent = updates.get(d.id)
        update_state = ("none" if sent is None else "updating" if sent.outcome is None
                        else "refused" if sent.outcome == "refused" else "current")
        device = FleetDevice(d.id, d.site, d.kind, d.online, beat.get("software"),
                             beat.get("model_pack") or d.model_pack, latest.version if latest else None, running, state,
                             latest.reason if state == "refused" else None,
                             latest.created_at if state == "lagging" else None, d.last_heartbeat_at,
                             beat.get("pack_version"), update_state, sent.kind if sent else None,
                             sent.version if sent else None,
                             sent.reason if update_state == "refused" else None)
        devices.append(device)
        site = sites.setdefault(d.site, FleetSite(d.site))
        site.devices += 1
        site.online += int(d.online)
        site.configs[state] += 1
        site.software[device.software or "?"] += 1
        site.packs[device.pack if device.pack_version is None else f"{device.pack} v{device.pack_version}"] += 1
        site.updates[update_state] += 1
    return [sites[s] for s in sorted(sites)], devices
