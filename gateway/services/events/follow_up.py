"""Operators' follow-up of what needs a person (verdicts `unknown`, `spoof_suspected`, `passback`, the passes'
refusals `no_pass`, `wrong_gate`, `used` and `forged`, and `tailgate` events): what to do, and who did it.
A site at capacity (`full`) needs nobody: its gates say so, and the live page shows how many are inside.
An `unknown` or `spoof_suspected` card shows the face it was about, sent by the gate beside the verdict and kept a
day (`face_crop`).

An acknowledgement is stored once per event with who, when and an optional
note, in the same transaction as its audit entry. The instructions shown with
such a verdict are the site's own (configured) or FaceGate's defaults, in the
reader's language.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from gateway.errors import Conflict, Invalid, NotFound
from gateway.i18n import N_
from gateway.storage import Acknowledgement, EventQuery, Store, StoredEvent
from wire.events import utc_text
from wire.evidence import EvidenceError, open_evidence

# verdicts, and the tailgate event
NEEDS_A_PERSON = ("unknown", "spoof_suspected", "passback", "no_pass", "wrong_gate", "used", "forged", "tailgate")
DEFAULT_INSTRUCTIONS = {
    "unknown": N_("Stop the person at the gate. Check their ticket or ID card by hand; let them through only if it "
                  "is valid, and note what you did."),
    "spoof_suspected": N_("Someone may be showing a photo, a screen or a mask to the camera. Ask the person to face "
                          "the camera with nothing in front of their face; call the supervisor if it happens again."),
    "passback": N_("This person already went in and has not come out. The door stayed shut: ask why they are "
                   "back (a lost companion, a second ticket?) and open by hand only with a reason."),
    "no_pass": N_("This person's pass is not valid now: not yet, no longer, or cancelled. Send them to the ticket "
                  "office; the door stayed shut."),
    "wrong_gate": N_("This person's pass is for another gate. Show them the way to their gate; the door stayed shut."),
    "used": N_("This ticket or pass was already used as often as it allows: a copy, or a second visit on a single "
               "ticket. Ask to see who holds the original; the door stayed shut."),
    "forged": N_("The QR code shown is not a ticket of this site: a forgery, or another site's ticket. Keep the "
                 "person at the gate and call the supervisor."),
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


def face_crop(store: Store, event_id: str) -> bytes:
    """The JPEG of a verdict's face crop, decrypted with its device's key and checked against the SHA-256 the verdict
    signed; NotFound if it has none (a granted visitor never has) or it is past its retention."""
    event = store.events.get(event_id)
    sha256 = json.loads(event.body).get("crop_sha256") if event is not None and event.kind == "verdict" else None
    if sha256 is None:
        raise NotFound("no face picture for {event}", event=event_id)
    after = datetime.fromisoformat(event.captured_at.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    crops = store.events.query(EventQuery(device=event.device, kind="crop", since=event.captured_at,
                                          until=utc_text(after), limit=20))
    crop = next((json.loads(c.body) for c in crops if json.loads(c.body).get("verdict") == event_id), None)
    device = store.devices.get(event.device)
    if crop is None or device is None:
        raise NotFound("no face picture for {event}", event=event_id)
    try:
        return open_evidence(device.gallery_key, event.device, event_id, crop["nonce"], crop["ciphertext"], sha256)
    except EvidenceError:
        raise NotFound("no face picture for {event}", event=event_id) from None


def acknowledge_many(store: Store, event_ids: list[str], user: str, note: str) -> tuple[list[str], list[str]]:
    """Record that `user` dealt with several (a lane's cards, or all of them) in one transaction, one audit entry
    each; (acknowledged, already acknowledged by someone or needing no one)."""
    done, skipped = [], []
    with store.db.transaction(unaudited="every one was already dealt with") as tx:
        for event_id in dict.fromkeys(event_ids):
            event = store.events.get(event_id)
            if event is None or follow_up_of(event) is None or store.follow_ups.get(tx, event_id) is not None:
                skipped.append(event_id)
                continue
            store.follow_ups.acknowledge(tx, Acknowledgement(event_id, event.site, event.device, user, tx.now, note))
            tx.audit(f"user:{user}", "verdict.acknowledged", event_id,
                     {"verdict": follow_up_of(event), "device": event.device, "note": note, "together": len(event_ids)})
            done.append(event_id)
    return done, skipped
