"""Operators' follow-up of what needs a person (verdicts `unknown`, `spoof_suspected`, `passback`, and
`tailgate` events): what to do, and who did it.

An acknowledgement is stored once per event with who, when and an optional
note, in the same transaction as its audit entry. The instructions shown with
such a verdict are the site's own (configured) or FaceGate's defaults, in the
reader's language.
"""

from __future__ import annotations

from gateway.errors import Conflict, Invalid, NotFound
from gateway.i18n import N_
from gateway.storage import Acknowledgement, Store, StoredEvent

NEEDS_A_PERSON = ("unknown", "spoof_suspected", "passback", "tailgate")  # verdicts, and the tailgate event
DEFAULT_INSTRUCTIONS = {
    "unknown": N_("Stop the person at the gate. Check their ticket or ID card by hand; let them through only if it "
                  "is valid, and note what you did."),
    "spoof_suspected": N_("Someone may be showing a photo, a screen or a mask to the camera. Ask the person to face "
                          "the camera with nothing in front of their face; call the supervisor if it happens again."),
    "passback": N_("This person already went in and has not come out. The door stayed shut: ask why they are "
                   "back (a lost companion, a second ticket?) and open by hand only with a reason."),
    "tailgate": N_("Someone went through behind a person the door opened for, without a match of their own. Find "
                   "them and check their ticket or ID card; call the supervisor if they do not stop."),
}


def follow_up_of(event: StoredEvent) -> str | None:
    """Which kind of follow-up the event needs (a key of DEFAULT_INSTRUCTIONS), or None."""
    key = "tailgate" if event.kind == "tailgate" else event.verdict if event.kind == "verdict" else None
    return key if key in NEEDS_A_PERSON else None


def acknowledge(store: Store, event_id: str, user: str, note: str) -> Acknowledgement:
    """Record that `user` dealt with the verdict or tailgate `event_id` (audited with the note); Conflict if
    someone already did, Invalid for an event that needs no one."""
    event = store.events.get(event_id)
    if event is None or event.kind not in ("verdict", "tailgate"):
        raise NotFound("no verdict {event}", event=event_id)
    if follow_up_of(event) is None:
        raise Invalid("a {verdict} verdict needs no follow-up", verdict=event.verdict)
    with store.db.transaction() as tx:
        done = store.follow_ups.get(tx, event_id)
        if done is not None:
            raise Conflict("{user} already acknowledged this at {when}", user=done.by, when=done.at)
        ack = Acknowledgement(event_id, event.site, event.device, user, tx.now, note)
        store.follow_ups.acknowledge(tx, ack)
        tx.audit(f"user:{user}", "verdict.acknowledged", event_id,
                 {"verdict": follow_up_of(event), "device": event.device, "note": note})
    return ack
