"""Fetching an update's files from the gateway: over HTTPS, signed by the device, resumable, checked by hash.

Each file goes to `<name>.partial` first and gets its real name only once its SHA-256 and size match what the signed
command says: a file with its real name is always a whole, checked one. A download cut off (the network, a restart)
goes on from where the partial file ends, with an HTTP range. Before anything is fetched the free disk is checked
for every file still missing, with room to spare.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from models.manifest import sha256_of
from wire.bundle import DeviceBundle
from wire.updates import UpdateFile, device_request_signature

log = logging.getLogger(__name__)

SPARE_BYTES = 64 * 1024 * 1024  # left free beyond the update's files: the outbox and the logs go on growing
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be fetched whole and unaltered, or there is no room for it."""


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Downloader:
    """Fetches files for one device from the gateway (HTTPS checked against the FaceGate CA in its bundle)."""

    def __init__(self, bundle: DeviceBundle, timeout_s: float = 30.0):
        self.bundle, self.timeout_s = bundle, timeout_s
        self.context = ssl.create_default_context(cadata=bundle.ca_cert) if bundle.ca_cert else None

    def fetch_all(self, url: str, files: list[UpdateFile], folder: Path) -> None:
        """Every one of `files` into `folder`, checked; DownloadError naming the file otherwise."""
        if urlsplit(url).scheme != "https" and not _loopback(url):
            raise DownloadError(f"refusing to fetch over {urlsplit(url).scheme or 'no scheme'}: updates come over "
                                "HTTPS")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        missing = [f for f in files if not _whole(folder / f.name, f)]
        needed = sum(f.size - _size(folder / f"{f.name}.partial") for f in missing)
        free = shutil.disk_usage(folder).free
        if needed + SPARE_BYTES > free:
            raise DownloadError(f"not enough free disk: {needed / 1e6:.1f} MB to fetch and "
                                f"{SPARE_BYTES / 1e6:.0f} MB to spare, {free / 1e6:.1f} MB free")
        for file in missing:
            self.fetch(f"{url.rstrip('/')}/{file.name}", file, folder)

    def fetch(self, url: str, file: UpdateFile, folder: Path) -> Path:
        partial, target = folder / f"{file.name}.partial", folder / file.name
        have = _size(partial)
        if have > file.size:  # not this file's beginning
            partial.unlink()
            have = 0
        if have < file.size:
            headers = {"Authorization": device_request_signature(self.bundle.device_key(), self.bundle.device, "GET",
                                                                 urlsplit(url).path)}
            if have:
                headers["Range"] = f"bytes={have}-"
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s, context=self.context) as response:
                    if have and response.status != 206:  # the server sent the whole file: start over
                        have = 0
                    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC), 0o600)
                    with os.fdopen(fd, "ab" if have else "wb") as out:
                        while chunk := response.read(CHUNK):
                            out.write(chunk)
                            if out.tell() > file.size:
                                break
                        out.flush()
                        os.fsync(out.fileno())
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"{file.name}: the gateway answered {exc.code}") from None
            except (OSError, ssl.SSLError) as exc:
                raise DownloadError(f"{file.name}: {exc} (fetched {_size(partial)} of {file.size} bytes so far; "
                                    "the next try goes on from there)") from None
        digest, size = sha256_of(partial), _size(partial)
        if size != file.size or digest != file.sha256:
            partial.unlink(missing_ok=True)  # altered or not this file: fetched again from the start next time
            raise DownloadError(f"{file.name}: {size} bytes with sha256 {digest} does not match the signed "
                                f"{file.size} bytes with sha256 {file.sha256}")
        os.replace(partial, target)
        log.info("fetched %s (%d bytes%s)", file.name, file.size, f", resumed at byte {have}" if have else "")
        return target


def _whole(path: Path, file: UpdateFile) -> bool:
    return path.is_file() and path.stat().st_size == file.size and sha256_of(path) == file.sha256


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
