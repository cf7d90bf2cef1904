"""A model pack or a FaceGate release going out to the fleet stage by stage, stopping by itself when the updated
devices do worse (issue 29).

A rollout names a published pack version (or release) and its stages: some devices, a site, or a share of the fleet
first, then the rest. Each device of the stage going out gets a signed `cmd/update` (retained; a number of its own,
so a replay is refused) and answers with an `update` event: applied -- fetched, hash-checked, self-tested (a pack) or
health-checked (a release), and its node running on it -- or refused and why. The next stage goes out only when
every device of this one has applied it and then sent a healthy heartbeat on it: no camera in error, and at least
`FPS_KEPT` of the frame rate it had before.

One device refusing, or unhealthy on the new version, stops the rollout: every device that took it is sent back to the
version it ran before (a command signed as a rollback), and the stages not reached never see it. An admin may stop
a rollout by hand the same way. Every start, stage and stop is audited.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Device, DeviceUpdate, PackVersion, ReleaseVersion, Rollout, Store, Tx
from wire.commands import UPDATE, sign_command
from wire.topics import cmd_topic
from wire.updates import Reference, UpdateCommand, UpdateFile

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], bool]  # retained, QoS 1; True once the broker has it
FPS_KEPT = 0.5  # of the frame rate before the update: a device doing worse is unhealthy on the new pack
# A node's heartbeats in its first seconds cover a window cut short by its start (measured: 1.1 fps at 0.9 s of
# uptime, 5.2 at 2.8 s, on a 5 fps camera): its rate is read from a heartbeat sent after these, before and after.
SETTLED_S = 5.0


Published = PackVersion | ReleaseVersion


def targets(store: Store, kind: str, name: str) -> list[Device]:
    """The devices a rollout is for: active gates (that run pack `name`, for a pack). Kiosks and exam devices take
    packs and releases with their local files for now."""
    return sorted((d for d in store.devices.all() if d.active and d.kind == "gate" and d.gallery_key
                   and (kind == "software" or d.model_pack == name)), key=lambda d: d.id)


def published(store: Store, kind: str, name: str, version: int) -> Published | None:
    """The published pack version, or release, a rollout installs."""
    return store.updates.release(version) if kind == "software" else store.updates.pack(name, version)


def plan(store: Store, name: str, stages: list[dict], rest: bool = True, kind: str = "pack") -> list[list[str]]:
    """Device ids stage by stage, from stage specs -- {"devices": [...]}, {"site": ...} or {"share": percent of the
    fleet} -- each taking from the devices no earlier stage took; with `rest`, whatever is left is the last
    stage."""
    fleet = targets(store, kind, name)
    left = [d.id for d in fleet]
    planned: list[list[str]] = []
    for number, spec in enumerate(stages, start=1):
        if spec.get("devices"):
            unknown = [d for d in spec["devices"] if d not in left]
            if unknown:
                raise Invalid("stage {stage}: {devices} not among the devices this rollout is for (active gates on "
                              "pack {name}, not in an earlier stage)", stage=number, devices=", ".join(unknown),
                              name=name if kind == "pack" else "*")
            chosen = [d for d in left if d in spec["devices"]]
        elif spec.get("site"):
            chosen = [d.id for d in fleet if d.site == spec["site"] and d.id in left]
        elif spec.get("share"):
            chosen = left[:math.ceil(len(fleet) * float(spec["share"]) / 100)]
        else:
            raise Invalid("stage {stage}: name its devices, a site or a share of the fleet", stage=number)
        if not chosen:
            raise Invalid("stage {stage} takes no device", stage=number)
        planned.append(chosen)
        left = [d for d in left if d not in chosen]
    if left and rest:
        planned.append(left)
    if not planned:
        raise Invalid("no active gate runs pack {name}: nothing to roll out", name=name if kind == "pack" else "*")
    return planned


def start(store: Store, secrets: GatewaySecrets, publish: Publish | None, name: str, version: int,
          stages: list[dict], by: str, url: str, rest: bool = True, kind: str = "pack") -> Rollout:
    """Start rolling out version `version` of pack `name` (or, `kind` software, release `version`) in `stages` (see
    `plan`; `rest`: and then to the rest of the fleet): the first stage's commands go out now. Conflict if a rollout
    of that pack (or of a release) is still running."""
    name = "facegate" if kind == "software" else name
    made = published(store, kind, name, version)
    if made is None and kind == "software":
        raise NotFound("no published release {version}", version=version)
    if made is None:
        raise NotFound("pack {name} has no published version {version}", name=name, version=version)
    planned = plan(store, name, stages, rest, kind)
    with store.db.transaction() as tx:
        if any(r.name == name for r in store.updates.rollouts(running_only=True)):
            raise Conflict("a rollout of pack {name} is still running: stop it first", name=name)
        rollout_id = store.updates.add_rollout(tx, kind, name, version, planned, by)
        tx.audit(f"user:{by}", "rollout.started", f"{name}@{version}", {"rollout": rollout_id, "stages": planned})
        for device in planned[0]:
            _command(store, tx, secrets, store.devices.get(device), made, rollout_id, by, url)
    _publish_all(store, publish)
    return store.updates.rollout(rollout_id)


def stop(store: Store, secrets: GatewaySecrets, publish: Publish | None, rollout_id: int, by: str, reason: str,
         url: str) -> Rollout:
    """Stop a running rollout and send every device that took its pack (or may be taking it) back to the version it
    ran before. Conflict if it is not running."""
    with store.db.transaction() as tx:
        rollout = store.updates.rollout(rollout_id, tx)
        if rollout is None:
            raise NotFound("no rollout {rollout}", rollout=rollout_id)
        if rollout.state != "running":
            raise Conflict("rollout {rollout} is {state} already", rollout=rollout_id, state=rollout.state)
        _stop(store, tx, secrets, rollout, by, reason, url)
    _publish_all(store, publish)
    return store.updates.rollout(rollout_id)


def advance(store: Store, secrets: GatewaySecrets, publish: Publish | None, url: str) -> list[Rollout]:
    """Look at every running rollout: stop one whose stage went wrong, move one whose stage is through to the next
    (or finish it). The rollouts changed."""
    changed = []
    for rollout in store.updates.rollouts(running_only=True):
        failed, waiting = _judge(store, rollout)
        if waiting and not failed:
            continue  # most looks: a stage still going out, nothing written
        with store.db.transaction() as tx:
            if store.updates.rollout(rollout.id, tx) != rollout:
                continue  # stopped by hand (or moved by another replica) meanwhile: looked at again next time
            if failed:
                _stop(store, tx, secrets, rollout, "system", f"stage {rollout.stage + 1}: {failed}", url)
            elif rollout.stage + 1 == len(rollout.stages):
                store.updates.set_rollout(tx, rollout.id, stage=rollout.stage, state="done")
                tx.audit("system", "rollout.done", f"{rollout.name}@{rollout.version}", {"rollout": rollout.id})
            else:
                stage = rollout.stage + 1
                store.updates.set_rollout(tx, rollout.id, stage=stage, state="running")
                tx.audit("system", "rollout.stage", f"{rollout.name}@{rollout.version}",
                         {"rollout": rollout.id, "stage": stage + 1, "devices": rollout.stages[stage]})
                made = published(store, rollout.kind, rollout.name, rollout.version)
                for device in rollout.stages[stage]:
                    _command(store, tx, secrets, store.devices.get(device), made, rollout.id, "system", url)
        changed.append(rollout.id)
    if changed:
        _publish_all(store, publish)
    return [store.updates.rollout(r) for r in changed]


def health(store: Store, device: Device, command: DeviceUpdate) -> tuple[bool | None, str]:
    """(healthy, why not) of `device` on what `command` installed, from its heartbeats since; None: no heartbeat on
    it yet, or none from a node running long enough to say its rate."""
    beat = device.last_heartbeat or {}
    # A heartbeat saying it runs the version is one sent since: it could not say so before (had it run the version
    # already, the command would have changed nothing). Its time is the device's clock, not comparable with ours.
    if command.reported_at is None or _running(store, command.kind, beat) != command.version:
        return None, ""
    if beat.get("camera_error"):
        return False, f"camera error on the new {command.kind}: {beat['camera_error']}"
    if not _settled(beat):
        return None, ""
    fps = float(beat.get("fps") or 0.0)
    if command.baseline_fps and fps < FPS_KEPT * command.baseline_fps:
        return False, f"{fps:.1f} fps on the new {command.kind}, {command.baseline_fps:.1f} before"
    return True, ""


def _judge(store: Store, rollout: Rollout) -> tuple[str, bool]:
    """(what went wrong in the stage going out, whether some device of it has not answered yet)."""
    sent = {c.device: c for c in store.updates.of_rollout(rollout.id) if not c.rollback}
    waiting = False
    for device_id in rollout.stages[rollout.stage]:
        command = sent.get(device_id)
        if command is None or command.outcome is None:
            waiting = True
        elif command.outcome == "refused":
            return f"{device_id} refused it: {command.reason}", waiting
        else:
            healthy, why = health(store, store.devices.get(device_id), command)
            if healthy is False:
                return f"{device_id}: {why}", waiting
            waiting = waiting or healthy is None
    return "", waiting


def _stop(store: Store, tx: Tx, secrets: GatewaySecrets, rollout: Rollout, by: str, reason: str, url: str) -> None:
    store.updates.set_rollout(tx, rollout.id, stage=rollout.stage, state="stopped", reason=reason[:1000])
    back = []
    for command in store.updates.of_rollout(rollout.id, tx):
        if command.rollback or command.outcome == "refused":
            continue
        device = store.devices.get(command.device)
        if device is None or not device.active:
            continue
        previous = published(store, rollout.kind, rollout.name, command.previous) if command.previous else None
        _command(store, tx, secrets, device, previous, rollout.id, by, url, rollback_to=command.previous or 0,
                 kind=rollout.kind)
        back.append(command.device)
    tx.audit(f"user:{by}" if by != "system" else "system", "rollout.stopped", f"{rollout.name}@{rollout.version}",
             {"rollout": rollout.id, "reason": reason[:1000], "rolled_back": back})
    log.warning("rollout %d of %s@%d stopped: %s; rolling back %s", rollout.id, rollout.name, rollout.version, reason,
                ", ".join(back) or "no device")


def _settled(beat: dict) -> bool:
    """Whether the heartbeat comes from a node running long enough for its frame rate to be its rate."""
    return float(beat.get("uptime_s") or 0.0) >= SETTLED_S


def _running(store: Store, kind: str, beat: dict) -> int:
    """The version of `kind` a heartbeat says the device runs: its pack version, or the number of the published
    release it names (0: a pack it came with, a release it was provisioned with)."""
    if kind == "pack":
        return int(beat.get("pack_version") or 0)
    release = store.updates.release_named(beat["software"]) if beat.get("software") else None
    return release.version if release else 0


def _command(store: Store, tx: Tx, secrets: GatewaySecrets, device: Device, made: Published | None,
             rollout: int | None, by: str, url: str, rollback_to: int | None = None, kind: str | None = None) -> None:
    """Record the device's next update command: install `made` (a pack version or a release), or (`rollback_to`) go
    back to that version -- `made` then being it, or None for what the device came with (0)."""
    kind = kind or ("software" if isinstance(made, ReleaseVersion) else "pack")
    beat = device.last_heartbeat or {}
    sequence = store.updates.next_sequence(tx, device.id)
    version = rollback_to if rollback_to is not None else made.version
    name = "facegate" if kind == "software" else made.name if made else device.model_pack
    where = f"releases/{version}" if kind == "software" else f"packs/{name}/{version}"
    command = UpdateCommand(
        device=device.id, sequence=sequence, kind=kind, name=name, version=version,
        release=made.release if isinstance(made, ReleaseVersion) else None, rollback=rollback_to is not None,
        rollout=rollout, url=f"{url}/api/updates/{where}" if made else "",
        files=[UpdateFile(**f) for f in made.files] if made else [],
        manifest=made.manifest if isinstance(made, PackVersion) else "",
        lock=made.lock if isinstance(made, ReleaseVersion) else "",
        reference=[Reference(**r) for r in made.reference] if isinstance(made, PackVersion) else [],
        issued_at=datetime.now(timezone.utc), by=by)
    payload = sign_command(command, secrets.signing_key)
    store.updates.add_command(tx, device.id, sequence, kind, name, version, rollback_to is not None, rollout,
                              _running(store, kind, beat), beat.get("fps") if _settled(beat) else None, payload)
    tx.audit("system" if by == "system" else f"user:{by}", "device.update", device.id,
             {"sequence": sequence, "kind": kind, "name": name, "version": version,
              "rollback": rollback_to is not None, "rollout": rollout})


def publish_command(store: Store, publish: Publish, device: Device, command: DeviceUpdate) -> bool:
    """Publish `command` retained on the device's `cmd/update`; True once the broker has it."""
    if not publish(cmd_topic(device.site, device.id, UPDATE), command.payload):
        return False
    with store.db.transaction(unaudited="the broker took an update command already recorded") as tx:
        store.updates.mark_published(tx, device.id, command.sequence)
    return True


def _publish_all(store: Store, publish: Publish | None) -> int:
    """Publish each device's newest command the broker has not taken; how many it took (the pusher tries the others
    again)."""
    published = 0
    for command in store.updates.unpublished() if publish else []:
        device = store.devices.get(command.device)
        if device is not None and device.active and publish_command(store, publish, device, command):
            published += 1
    return published


class UpdatePusher:
    """Publishes update commands the broker did not take when made, and moves running rollouts on; run by the
    gallery pusher's loop."""

    def __init__(self, store: Store, secrets: GatewaySecrets, publish: Publish, url: str):
        self.store, self.secrets, self.publish, self.url = store, secrets, publish, url

    def sync(self) -> None:
        _publish_all(self.store, self.publish)
        advance(self.store, self.secrets, self.publish, self.url)


def reported(store: Store, tx: Tx, device: str, body: dict, at: str) -> None:
    """A device's `update` event (in the transaction storing it): what became of one of its update commands."""
    if body.get("sequence"):
        store.updates.record_outcome(tx, device, body["sequence"], body["outcome"], body.get("reason") or "",
                                     body.get("self_test"), at)
