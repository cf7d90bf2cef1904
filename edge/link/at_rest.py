"""What a device keeps on disk -- its configuration, gallery, update state -- written whole or not at all, and
readable by its owner only."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` atomically (a crash leaves the old file or the new one, never half of one),
    owner-only, in a folder made owner-only if it does not exist."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`; None if there is none, or it does not read."""
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
