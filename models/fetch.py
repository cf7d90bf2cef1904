"""Download a pack's files from upstream into the model directory, checked by hash.

Only ever run on purpose (`facegate models fetch PACK`); nothing fetches at run time.
"""

from __future__ import annotations

import io
import urllib.request
import zipfile
from pathlib import Path

from models.manifest import FileSpec, ModelFileError, verify_file


def fetch_file(spec: FileSpec, target_dir: Path, timeout: float = 60.0) -> Path:
    """Try each upstream URL until one yields the pinned file; returns its path."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / spec.filename
    errors = []
    for url in spec.urls:
        address, _, member = url.partition("#")
        partial = target_dir / f".{spec.filename}.partial"
        try:
            with urllib.request.urlopen(address, timeout=timeout) as response:
                payload = response.read()
            if member:
                payload = zipfile.ZipFile(io.BytesIO(payload)).read(member)
            partial.write_bytes(payload)
            verify_file(spec, partial)
            partial.replace(target)  # only a verified file ever gets the real name
            return target
        except (OSError, KeyError, zipfile.BadZipFile, ModelFileError) as exc:
            errors.append(f"{url}: {exc}")
            partial.unlink(missing_ok=True)
    raise ModelFileError(f"could not fetch {spec.filename} (sha256 {spec.sha256}): " + "; ".join(errors or ["no URL"]))
