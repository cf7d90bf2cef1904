"""Files holding keys, templates or events are the owner's alone.

Every such file the gateway creates is made 0600 in a 0700 folder (the
database and its -wal/-shm, the secrets, the broker's password file and ACL,
device bundles, device outboxes and galleries). Files made some other way --
copied in, restored from a backup, created by an older release -- are found
at start by `exposed` and named in a warning.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def owner_only_folder(path: Path) -> Path:
    """`path`, created owner-only (0700) with every folder above it that does not exist yet; folders that exist
    are left as they are. (`Path.mkdir(parents=True, mode=0o700)` gives that mode to the last folder only: the
    ones above it get the umask's, 0755 -- a new secrets folder readable by everyone.)"""
    path = Path(path)
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):  # from the top down
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def write_owner_only(path: Path, data: str | bytes) -> None:
    """Write `path` atomically (a reader never sees half a file), readable by the owner only, in a folder that is
    made owner-only if it does not exist."""
    path = Path(path)
    owner_only_folder(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, path)


def copy_owner_only(copies: Iterable[tuple[Path, str]], folder: Path) -> Path:
    """Copy each (source, name) into `folder` as `name`, readable by the owner only; `folder` is made anew,
    owner-only with every folder above it that does not exist yet (one left half made is replaced)."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    owner_only_folder(folder)
    for source, name in copies:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as inp:
            shutil.copyfileobj(inp, out)
    return folder


def exposed(paths: Iterable[Path]) -> list[Path]:
    """Of `paths` and what lies under those that are folders: what a group or other users may read or write.

    What sits inside an owner-only folder is out of others' reach whatever its own mode (a pid file Mosquitto
    writes 0644, say), so a folder's contents are looked at only when the folder itself is open to others.
    """
    found = []
    for path in paths:
        path = Path(path)
        if path.exists():
            found += _exposed_under(path)
    return found


def _exposed_under(item: Path) -> list[Path]:
    try:
        mode = item.lstat().st_mode
    except OSError:
        return []
    if stat.S_ISLNK(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []  # a link is not followed; an owner-only file or folder (and all inside it) is fine
    if not stat.S_ISDIR(mode):
        return [item]
    inside = [x for child in sorted(item.iterdir()) for x in _exposed_under(child)]
    return [item, *inside]


def warn_exposed(paths: Iterable[Path]) -> list[Path]:
    """Log a warning naming each file or folder readable by others; the list."""
    found = exposed(paths)
    for item in found:
        log.warning("%s is readable or writable by other users (mode %o); it may hold keys, templates or events: "
                    "chmod %s %s", item, item.stat().st_mode & 0o777, "700" if item.is_dir() else "600", item)
    return found
