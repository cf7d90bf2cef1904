"""The fleet at a glance (issue 29): what runs on each device -- the FaceGate release, the model pack, the
configuration version -- and whether it has what the centre sent it; per site, the same counted.

A device's configuration is `current` when it runs the newest version made for it, `lagging` while it has not
applied it yet (offline, or still restarting), `refused` when it said why not (it runs its last good version),
and `local` when the centre never sent it one (its local file).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.storage import Store

STATES = ("current", "lagging", "refused", "local")


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


@dataclass
class FleetSite:
    site: str
    devices: int = 0
    online: int = 0
    configs: Counter = field(default_factory=Counter)  # state -> devices
    software: Counter = field(default_factory=Counter)  # release -> devices
    packs: Counter = field(default_factory=Counter)  # pack -> devices


def fleet(store: Store) -> tuple[list[FleetSite], list[FleetDevice]]:
    """Every active device and every site's counts (two queries, however large the fleet)."""
    newest = store.device_configs.newest_of_every_device()
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
        device = FleetDevice(d.id, d.site, d.kind, d.online, beat.get("software"),
                             beat.get("model_pack") or d.model_pack, latest.version if latest else None, running, state,
                             latest.reason if state == "refused" else None,
                             latest.created_at if state == "lagging" else None, d.last_heartbeat_at)
        devices.append(device)
        site = sites.setdefault(d.site, FleetSite(d.site))
        site.devices += 1
        site.online += int(d.online)
        site.configs[state] += 1
        site.software[device.software or "?"] += 1
        site.packs[device.pack] += 1
    return [sites[s] for s in sorted(sites)], devices
