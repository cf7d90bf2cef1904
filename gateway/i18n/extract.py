"""Babel extraction of the pages' scripts: every `FG.t("...")` with a plain string literal.

Babel's own JavaScript extractor loses calls inside nested template literals
(a ternary inside `FG.html` template literals), which the pages use everywhere; the
scripts keep to one form -- a double-quoted literal as FG.t's first argument --
so a regular expression finds them all. Named in babel.cfg.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import BinaryIO

CALL = re.compile(r'FG\.t\(("(?:[^"\\\n]|\\.)*")')


def extract_js(fileobj: BinaryIO, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """(line, function, message, comments) for each FG.t call, as Babel's extractors yield them (the function
    named as `_`, a keyword Babel always knows)."""
    text = fileobj.read().decode("utf-8")
    for match in CALL.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, "_", json.loads(match.group(1)), []
