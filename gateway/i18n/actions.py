"""The audit log's actions by name, in words an auditor reads (issue 28): the audit page offers them to choose from
and shows them in each entry, and the CSV export writes them beside the code. An action without a name here (one
added later, or a device's) shows as its code."""

from __future__ import annotations

from gateway.i18n import N_

ACTION_NAMES = {
    # people and their logins
    "user.login": N_("logged in"), "user.login.locked_out": N_("login locked out"), "user.logout": N_("logged out"),
    "user.added": N_("login added"), "user.changed": N_("login changed"), "user.language": N_("language changed"),
    # sites, devices, doors
    "site.added": N_("site added"), "device.provisioned": N_("device provisioned"),
    "device.revoked": N_("device revoked"), "device.placed": N_("device placed in a room"),
    "kiosk.set_up": N_("kiosk set up"), "door.open": N_("door opened by hand"),
    "door.open_not_sent": N_("door opening not sent"), "verdict.acknowledged": N_("gate verdict acknowledged"),
    # enrolment, consent, erasure
    "subject.enrolled": N_("person enrolled"), "subject.refused": N_("enrolment refused"),
    "consent.granted": N_("consent granted"), "consent.extended": N_("consent extended"),
    "consent.withdrawn": N_("consent withdrawn"), "consent.expired": N_("consent expired"),
    "erasure.requested": N_("erasure requested"), "erasure.device_confirmed": N_("erasure confirmed by a device"),
    "erasure.device_revoked": N_("erasure: device revoked"), "erasure.completed": N_("erasure completed"),
    "gallery.version": N_("gallery version made"),
    # tickets and passes
    "ticket_type.added": N_("ticket type added"), "ticket_type.changed": N_("ticket type changed"),
    "pass.sold": N_("pass sold"), "pass.group_sold": N_("group passes sold"), "pass.extended": N_("pass extended"),
    "pass.cancelled": N_("pass cancelled"), "occupancy.corrected": N_("count of people inside corrected"),
    "site.capacity": N_("site capacity set"),
    # the chip card at a kiosk or a door
    "card.read_requested": N_("card read requested"), "card.read": N_("card read"),
    "card.read_closed": N_("card read closed"), "card.read_not_sent": N_("card read not sent"),
    "card.trust_added": N_("card issuer trusted"),
    # exams
    "exam.candidates_imported": N_("candidate list imported"), "exam.day_scheduled": N_("exam day scheduled"),
    "exam.day_closed": N_("exam day closed"), "exam.day_keys_forgotten": N_("exam day's card keys forgotten"),
    "exam.checked_in": N_("candidate checked in at the door"), "exam.checkin.failed": N_("check-in at the door failed"),
    "exam.checked_in_by_hand": N_("candidate checked in by hand"), "exam.session.created": N_("exam session created"),
    "exam.session.sent": N_("exam session sent to its seat"), "exam.session.moved": N_("exam session moved"),
    "exam.session.candidate": N_("exam session's candidate set"),
    "exam.session.cancelled": N_("exam session cancelled"), "exam.flag.confirmed": N_("exam flag confirmed"),
    "exam.flag.dismissed": N_("exam flag dismissed"), "exam.verdict": N_("exam verdict given"),
    "exam.evidence.purged": N_("exam evidence purged"),
    # the pages' own reads (kept apart from people's actions)
    "events.read": N_("events listed"), "event.read": N_("event opened"), "events.stream": N_("live events followed"),
    "subjects.read": N_("people listed"), "exam.sessions.read": N_("exam sessions listed"),
    "exam.session.read": N_("exam session opened"), "exam.evidence.read": N_("exam evidence viewed"),
    "exam.report.read": N_("exam session report downloaded"), "exam.day_report.read": N_("exam day report downloaded"),
    # the log, the devices' events, the gateway's own work
    "audit.verified": N_("audit chain checked"), "audit.exported": N_("audit log exported"),
    "audit.database.adopted": N_("database adopted"), "event.stored": N_("device event stored"),
    "events.purged": N_("events purged"), "ingest.quarantined": N_("message quarantined"),
}


def action_name(code: str) -> str:
    """The English name of an audit action (its msgid), or the code itself if it has none."""
    return ACTION_NAMES.get(code, code)
