"""Values shown to people by their names: exam statuses, flags, check-in results, reviews (the pages' scripts
keep the same English names, so one translation serves both)."""

from __future__ import annotations

from gateway.i18n import N_

VALUE_NAMES = {
    # exam session status (traffic light)
    "clean": N_("clean"), "needs review": N_("needs review"), "confirmed incident": N_("confirmed incident"),
    "technical problem": N_("technical problem"),
    # check-in
    "pending": N_("pending"), "passed": N_("passed"), "failed": N_("failed"),
    "presentation_attack": N_("presentation attack"), "refused": N_("refused"),
    # flags and their severity
    "face_mismatch": N_("face mismatch"), "no_face": N_("no face"), "multiple_faces": N_("several faces"),
    "camera_blocked": N_("camera blocked"), "low_quality": N_("poor image"), "technical": N_("technical problem"),
    "low": N_("low"), "medium": N_("medium"), "high": N_("high"),
    # reviews and verdicts
    "confirmed": N_("confirmed"), "dismissed": N_("dismissed"), "incident": N_("incident"), "void": N_("void"),
    # why a check was taken
    "checkin": N_("check-in"), "periodic": N_("periodic"), "face_returned": N_("face returned"), "logout": N_("logout"),
}


def name_of(value: str | None) -> str:
    """The English name of a value (its msgid), or the value itself if it has none."""
    return VALUE_NAMES.get(value, value) if value else ""
