"""The languages of the pages, the messages and the reports: one gettext catalogue per language.

Messages are written in English in the code (the msgid) and marked where they
are written -- `_("...")` in templates and Python, `FG.t("...")` in the pages'
scripts -- so that `make messages` (Babel) collects them into
`locales/<lang>/LC_MESSAGES/messages.po`; a translator edits those files only.
Placeholders are `{name}`, filled after translation. Vietnamese is the default
language; a user picks theirs on any page (kept with the user).

This package imports nothing else of the gateway: every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}  # code -> the language's own name, for the switcher
DEFAULT_LANGUAGE = "vi"
LOCALES = Path(__file__).resolve().parent / "locales"


def N_(message: str) -> str:
    """Marks `message` for the catalogue where it is written and translated later (a name looked up by value)."""
    return message


# Role names, shown on pages and looked up by value.
ROLE_NAMES = (N_("operator"), N_("supervisor"), N_("admin"), N_("auditor"))


@dataclass(frozen=True)
class Catalogue:
    """One language's translations: msgid -> text (missing or empty: the English msgid itself)."""

    language: str
    messages: dict[str, str]

    def gettext(self, message: str, **params: object) -> str:
        """`message` in this language, with its `{name}` placeholders filled from `params`."""
        text = self.messages.get(message) or message
        return text.format(**params) if params else text


@cache
def catalogue(language: str) -> Catalogue:
    """The catalogue of `language` (one of LANGUAGES), read once from its .po file."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        po = read_po(f, locale=language)
    return Catalogue(language, {m.id: m.string for m in po if m.id and m.string and not m.fuzzy})


def pick_language(*choices: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The first of `choices` that is a language we have (the user's, then the browser's cookie), else `default`."""
    return next((c for c in choices if c in LANGUAGES), default)
