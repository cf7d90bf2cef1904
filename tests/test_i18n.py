"""Vietnamese first, English beside it: one catalogue per language, complete, and times on the sites' clock."""

from __future__ import annotations

import re

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from gateway import errors
from gateway.i18n import LANGUAGES, catalogue
from gateway.services.people.enrolment import new_subject_id
from gateway.services.events.local_time import local_text
from stack import REPO

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def error_classes() -> list[str]:
    """The classes whose first argument is a message: the gateway's errors and the refusal reasons."""
    return [name for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, errors.GatewayError)] + ["Reason"]


def marked_messages() -> set[str]:
    """Every message marked for translation in the code, found the way `make messages` finds them (the errors'
    classes are keywords too: their first argument is the message)."""
    with open(REPO / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = DEFAULT_KEYWORDS | {name: None for name in error_classes()}
    return {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(REPO), method_map, options_map, keywords=keywords) if isinstance(message, str)}


def test_make_messages_collects_every_kind_of_error():
    keywords = next(line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("ERROR_KEYWORDS"))
    assert set(keywords.split(":=")[1].split()) == set(error_classes())


def test_every_message_on_the_pages_is_in_vietnamese_with_the_same_placeholders():
    marked = marked_messages()
    assert {"Live gate", "Exam session report", "Log in", "granted today", "no subject '{subject}'",
            "wrong user name or password", "{n} faces found; an enrolment photo must show exactly one"} <= marked  # the extraction finds them: pages, reports, errors
    vi = catalogue("vi").messages
    untranslated = sorted(marked - set(vi))
    assert not untranslated, f"run `make messages` and translate these in the vi catalogue: {untranslated}"
    for message in marked:
        assert set(PLACEHOLDER.findall(vi[message])) == set(PLACEHOLDER.findall(message)), message
    # English is the source language: its catalogue holds the same ids, nothing needs translating.
    assert set(LANGUAGES) == {"vi", "en"} and catalogue("en").gettext("Live gate") == "Live gate"


def test_a_message_is_filled_after_translation():
    assert catalogue("vi").gettext("{n} people", n=3) == "3 người"
    assert catalogue("en").gettext("{n} people", n=3) == "3 people"
    assert catalogue("vi").gettext("a message nobody marked") == "a message nobody marked"


def test_stored_times_read_on_the_sites_clock_day_first_and_24_hour():
    # 23:30 UTC on 1 December is 06:30 on 2 December in Vietnam: the local day, not the UTC one.
    assert local_text("2026-12-01T23:30:00.000Z", "Asia/Ho_Chi_Minh") == "02/12/2026 06:30:00"
    assert local_text("2026-12-01T13:05:09.000Z", "Asia/Ho_Chi_Minh", with_date=False) == "20:05:09"
    assert local_text(None, "Asia/Ho_Chi_Minh") == ""


def test_a_name_in_any_script_gets_an_id_of_its_own():
    assert new_subject_id("Trần Thị Bình", lambda _: False) == "tran-thi-binh"
    assert new_subject_id("Đặng Văn Đức", lambda _: False) == "dang-van-duc"
    taken = {"tran-thi-binh", "tran-thi-binh-2"}
    assert new_subject_id("Trần Thị Bình", taken.__contains__) == "tran-thi-binh-3"
    assert re.fullmatch(r"person-[0-9a-f]{8}", new_subject_id("李小龍", lambda _: False))
