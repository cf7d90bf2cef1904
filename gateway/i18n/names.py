"""Values shown to people by their names: exam statuses, flags, check-in results, reviews (the pages' scripts
keep the same English names, so one translation serves both)."""

from __future__ import annotations

import re

from gateway.i18n import N_

VALUE_NAMES = {
    # exam session status (traffic light)
    "clean": N_("clean"), "needs review": N_("needs review"), "confirmed incident": N_("confirmed incident"),
    "technical problem": N_("technical problem"), "not started": N_("not started"),
    # exam parts
    "theory": N_("theory"), "simulation": N_("simulation"), "track": N_("track"), "road": N_("road"),
    # check-in
    "pending": N_("pending"), "passed": N_("passed"), "failed": N_("failed"),
    "presentation_attack": N_("presentation attack"), "refused": N_("refused"),
    # flags and their severity
    "face_mismatch": N_("face mismatch"), "no_face": N_("no face"), "multiple_faces": N_("several faces"),
    "camera_blocked": N_("camera blocked"), "low_quality": N_("poor image"), "technical": N_("technical problem"),
    "low": N_("low"), "medium": N_("medium"), "high": N_("high"),
    # reviews and verdicts
    "confirmed": N_("confirmed"), "dismissed": N_("dismissed"), "incident": N_("incident"), "void": N_("void"),
    # the chip card's check (passive authentication and the clone checks)
    "genuine": N_("genuine"), "untrusted_issuer": N_("issuer not trusted"), "tampered": N_("tampered"),
    "clone_suspected": N_("copy suspected"), "expired_document": N_("expired"),
    # a gate's verdicts, refusals by passes and capacity among them
    "granted": N_("granted"), "unknown": N_("unknown"), "spoof_suspected": N_("spoof suspected"),
    "passback": N_("passback"), "no_pass": N_("no valid pass"), "wrong_gate": N_("not valid at this gate"),
    "used": N_("already used"), "forged": N_("forged ticket"), "full": N_("site full"),
    # why a check was taken
    "checkin": N_("check-in"), "periodic": N_("periodic"), "face_returned": N_("face returned"), "logout": N_("logout"),
}


def name_of(value: str | None) -> str:
    """The English name of a value (its msgid), or the value itself if it has none."""
    return VALUE_NAMES.get(value, value) if value else ""


# What an exam device writes of a flag (edge/exam/station.py), in words the reader reads: the numbers are the
# device's, the sentence ours. A detail of another shape is shown as the device wrote it.
DETAILS = [(re.compile(r"^1:1 score (-?[0-9.]+) < (-?[0-9.]+)$"), N_("1:1 score {score}, below the {threshold} needed")),
           (re.compile(r"^live score (-?[0-9.]+) < (-?[0-9.]+)$"),
            N_("liveness score {score}, below the {threshold} needed"))]


def flag_detail(text: str | None, words) -> str:
    """A flag's detail in the reader's words (`words`: their catalogue)."""
    for pattern, message in DETAILS:
        found = pattern.match(text or "")
        if found:
            return words.gettext(message, score=found[1], threshold=found[2])
    return text or ""
