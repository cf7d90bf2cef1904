"""Devices fetching update files from the gateway: who asks, and which file they get.

A device signs each request with its own key (wire/updates.py `device_request_signature`); the gateway checks the
signature against the key it registered for the device, and that the device is active and not revoked. The files
are served as they were published, with HTTP ranges, so a download cut off goes on where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gateway.errors import NotAuthenticated, NotFound
from gateway.services.updates.packs import pack_folder
from gateway.services.updates.releases import release_folder
from gateway.storage import Device, Store
from wire.signing import public_key_from_text
from wire.updates import device_of_request, verify_request

log = logging.getLogger(__name__)


def authenticate_device(store: Store, header: str, method: str, path: str) -> Device:
    """The active device that signed this request; NotAuthenticated otherwise."""
    try:
        device_id, at, signature = device_of_request(header)
    except ValueError:
        raise NotAuthenticated("a device's signed request is required") from None
    device = store.devices.get(device_id)
    if device is None or not device.active:
        raise NotAuthenticated("not a device's signed request that checks")
    try:
        verify_request(public_key_from_text(device.public_key), device_id, at, signature, method, path)
    except ValueError:
        log.warning("a request for %s signed as %s does not check", path, device_id)
        raise NotAuthenticated("not a device's signed request that checks") from None
    return device


def pack_file(store: Store, updates_dir: Path, name: str, version: int, file: str) -> Path:
    """The file `file` of published pack version `name`@`version`; NotFound if it is not one of its files."""
    pack = store.updates.pack(name, version)
    if pack is None or file not in {f["name"] for f in pack.files}:
        raise NotFound("pack {name} version {version} has no file {file}", name=name, version=version, file=file)
    return pack_folder(updates_dir, name, version) / file


def release_file(store: Store, updates_dir: Path, version: int, file: str) -> Path:
    """The file `file` of published release `version`; NotFound if it is not one of its files."""
    release = store.updates.release(version)
    if release is None or file not in {f["name"] for f in release.files}:
        raise NotFound("release {version} has no file {file}", version=version, file=file)
    return release_folder(updates_dir, version) / file
