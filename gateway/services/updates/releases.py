"""Publishing a release of FaceGate for devices to install (issue 29).

A release to publish is a folder: FaceGate's wheel (`facegate-<version>-py3-none-any.whl`, as `pip wheel .` makes
it), `requirements.lock` -- every requirement pinned with `==` and its `--hash=sha256:` (pip's hash-checking mode;
`pip-compile --generate-hashes` writes one) -- and the wheels of whatever the lock needs that the devices do not
have yet. The lock must pin this FaceGate wheel by its hash, and every other wheel in the folder must be one the lock
pins by hash: a device installs nothing the lock does not name. The files are kept owner-only under
<data>/updates/releases/<number>/, numbered by the gateway in the order they are published.
"""

from __future__ import annotations

import re
from pathlib import Path

from gateway.errors import Conflict, Invalid
from gateway.services.security.files import copy_owner_only
from gateway.storage import ReleaseVersion, Store
from models.manifest import sha256_of
from wire.updates import RELEASE

WHEEL = re.compile(r"^facegate-(?P<version>[^-]+)-py3-none-any\.whl$")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>\S+)(?P<hashes>(\s+--hash=sha256:[0-9a-f]{64})+)\s*$")


def release_folder(updates_dir: Path, version: int) -> Path:
    """Where the gateway keeps the files of a published release."""
    return Path(updates_dir) / "releases" / str(version)


def read_lock(text: str) -> dict[str, tuple[str, set[str]]]:
    """name (lower case, "-" for "_") -> (version, its allowed sha256s), from a hash-locked requirements file (lines
    continued with a backslash joined); Invalid naming a line that pins nothing by hash."""
    pins = {}
    for number, line in enumerate(text.replace("\\\n", " ").splitlines(), start=1):
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        found = PIN.match(line)
        if not found:
            raise Invalid("requirements.lock line {line}: not a requirement pinned with == and --hash=sha256:",
                          line=number)
        hashes = set(re.findall(r"sha256:([0-9a-f]{64})", found["hashes"]))
        pins[found["name"].lower().replace("_", "-")] = (found["version"], hashes)
    return pins


def publish_release(store: Store, updates_dir: Path, source: Path, actor: str) -> ReleaseVersion:
    """Check the release in folder `source` and record it as the next release (by `actor`); the release recorded.
    Invalid, naming the file, if anything does not check; Conflict if that FaceGate version is published already."""
    source = Path(source)
    wheels = sorted(p for p in source.glob("facegate-*.whl"))
    if len(wheels) != 1 or not WHEEL.match(wheels[0].name):
        raise Invalid("{folder} must hold exactly one FaceGate wheel, facegate-VERSION-py3-none-any.whl",
                      folder=str(source))
    release = WHEEL.match(wheels[0].name)["version"]
    if not re.match(RELEASE, release):
        raise Invalid("{version} is not a FaceGate version", version=release)
    if store.updates.release_named(release) is not None:
        raise Conflict("FaceGate {version} is published already", version=release)
    try:
        lock = (source / "requirements.lock").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid("{folder} has no requirements.lock", folder=str(source)) from None
    pins = read_lock(lock)
    hashes = {path.name: sha256_of(path) for path in sorted(source.glob("*.whl"))}
    own = pins.get("facegate")
    if own is None or own[0] != release or hashes[wheels[0].name] not in own[1]:
        raise Invalid("requirements.lock must pin facegate=={version} with the wheel's hash, sha256 {sha256}",
                      version=release, sha256=hashes[wheels[0].name])
    allowed = set().union(*(h for _, h in pins.values()))
    stray = [name for name, digest in hashes.items() if digest not in allowed]
    if stray:
        raise Invalid("{files}: not pinned by hash in requirements.lock", files=", ".join(stray))
    files = [{"name": name, "sha256": digest, "size": (source / name).stat().st_size}
             for name, digest in hashes.items()]
    lock_file = source / "requirements.lock"
    files.append({"name": "requirements.lock", "sha256": sha256_of(lock_file), "size": lock_file.stat().st_size})
    with store.db.transaction() as tx:
        version = store.updates.add_release(tx, release, files, lock, actor)
        copy_owner_only([(source / f["name"], f["name"]) for f in files], release_folder(updates_dir, version))
        tx.audit(actor, "release.published", f"facegate {release}", {"version": version, "files": files})
    return store.updates.release(version)
