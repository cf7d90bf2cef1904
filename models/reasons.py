"""Why a photo or a face was not taken, in words a person can be shown in their own language.

A `Reason` is the English text (a str: the command line prints it as it is)
that also keeps its template and values, so the gateway can show it in the
reader's language (gateway/i18n: `make messages` collects every `Reason(...)`).
"""

from __future__ import annotations


class Reason(str):
    """English text from a `{name}` template and its values; `.template` and `.params` kept for translation."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, **params: object) -> Reason:
        reason = super().__new__(cls, template.format(**params) if params else template)
        reason.template, reason.params = template, params
        return reason
