"""Operators opening a lane by hand: "open lane N once", with a reason, as a signed `cmd/door` to the device.

Nothing opens unrecorded: the request is in the audit chain (who, which lane, why) before the command leaves,
and a command the broker did not take is audited as not sent. The device confirms with a `door` event naming
the command, which the live page shows; it refuses a command older than 30 s, so a command held up on the
way never opens a door late. A `door` event stands as an operator's opening only if it names a command this
gateway issued, to that device, for that lane, by that operator (`unissued_opening`): a gate cannot put an
opening in anyone's name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from gateway.errors import Invalid, Unavailable
from gateway.storage import AuditQuery, Store, StoredEvent
from wire import DeviceKey, uuid7
from wire.commands import DOOR, DoorCommand, sign_command
from wire.topics import cmd_topic

Send = Callable[[str, bytes], bool]  # publish once, QoS 1, not retained; True once the broker has it


def lanes(heartbeat: dict | None) -> list[dict]:
    """The doors a device reported in its last heartbeat (wire.events.DoorStatus fields)."""
    return list((heartbeat or {}).get("doors") or [])


def open_lane(store: Store, device_id: str, lane: int, reason: str, user: str, send: Send | None,
              signing_key: DeviceKey | None) -> DoorCommand:
    """Send `device_id` the order to open `lane` once; the command sent. Audited, sent or not."""
    device = store.devices.get(device_id)
    if device is None or device.kind != "gate" or not device.active:
        raise Invalid("{device} is not an active gate", device=device_id)
    if lane not in {d["lane"] for d in lanes(device.last_heartbeat)}:
        raise Invalid("{device} has no door on lane {lane} (as its last heartbeat says)", device=device_id,
                      lane=lane)
    if send is None or signing_key is None:
        raise Unavailable("this gateway is not connected to the broker")
    command = DoorCommand(id=str(uuid7()), device=device.id, lane=lane, issued_at=datetime.now(timezone.utc),
                          by=user, reason=reason)
    details = {"device": device.id, "lane": lane, "reason": reason}
    with store.db.transaction() as tx:
        tx.audit(f"user:{user}", "door.open", command.id, details)
    if not send(cmd_topic(device.site, device.id, DOOR), sign_command(command, signing_key)):
        with store.db.transaction() as tx:
            tx.audit(f"user:{user}", "door.open_not_sent", command.id, details)
        raise Unavailable("the broker did not take the command: the door was not opened; try again")
    return command


def unissued_opening(store: Store, event: StoredEvent) -> str | None:
    """Why a `door` event may not be stored as an operator's opening, or None (for a grant's, always None):
    `door_command_unknown` if this gateway never issued the command it names, `door_command_mismatch` if it
    issued it to another device, lane or operator."""
    body = json.loads(event.body)
    if body.get("cause") != "operator":
        return None
    issued = store.audit.search(AuditQuery(action="door.open", target=body.get("command") or "", limit=1))
    if not issued:
        return "door_command_unknown"
    detail = json.loads(issued[0].detail or "{}")
    if (detail.get("device"), detail.get("lane"), issued[0].actor) != (
            event.device, body.get("lane"), f"user:{body.get('operator')}"):
        return "door_command_mismatch"
    return None
