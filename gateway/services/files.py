"""Files holding keys, templates or events are the owner's alone.

Every such file the gateway creates is made 0600 in a 0700 folder (the
database and its -wal/-shm, the secrets, the broker's password file and ACL,
device bundles, device outboxes and galleries). Files made some other way --
copied in, restored from a backup, created by an older release -- are found
at start by `exposed` and named in a warning.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def exposed(paths: Iterable[Path]) -> list[Path]:
    """Of `paths` and everything under those that are folders: what a group or other users may read or write."""
    found = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        for item in [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]:
            try:
                mode = item.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                continue
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                found.append(item)
    return found


def warn_exposed(paths: Iterable[Path]) -> list[Path]:
    """Log a warning naming each file or folder readable by others; the list."""
    found = exposed(paths)
    for item in found:
        log.warning("%s is readable or writable by other users (mode %o); it may hold keys, templates or events: "
                    "chmod %s %s", item, item.stat().st_mode & 0o777, "700" if item.is_dir() else "600", item)
    return found
