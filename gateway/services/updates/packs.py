"""Publishing a model pack for devices to fetch (issue 29).

A pack to publish is a folder: `manifest.toml` naming one pack and its files (models/manifest.toml's format, every
file pinned by SHA-256 and size), those files, and `reference/` with a few photos of faces. The gateway checks every
file against its pin, embeds each reference photo with the pack the fleet runs now -- the one its galleries'
templates were made with -- and keeps the files, owner-only, under <data>/updates/packs/<name>/<version>/. A device
activates the pack only if it embeds the same photos within tolerance (edge/updates/packs.py): a pack whose
templates would not match the fleet's never goes live.

A pack replaces the files of a pack the fleet knows by name (its galleries are made for that name): a new name is
refused here.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import Invalid
from gateway.services.security.files import copy_owner_only
from gateway.storage import PackVersion, Store
from models import LoadedPack
from models.manifest import ModelFileError, load_manifest, sha256_of
from models.photos import read_image, template_from_image
from models.quality import QualitySettings
from wire.updates import embedding_text

MAX_REFERENCES = 16
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def pack_folder(updates_dir: Path, name: str, version: int) -> Path:
    """Where the gateway keeps the files of a published pack version."""
    return Path(updates_dir) / "packs" / name / str(version)


def publish_pack(store: Store, updates_dir: Path, source: Path, fleet_pack, quality: QualitySettings,
                 actor: str) -> PackVersion:
    """Check the pack in folder `source`, make its self-test with `fleet_pack(name)` (the LoadedPack of that name
    the fleet runs now), keep its files and record its next version (by `actor`, "cli" or "user:NAME"); the version
    recorded. Invalid, naming the
    file, if anything does not check."""
    source = Path(source)
    try:
        manifest = load_manifest(source / "manifest.toml")
    except FileNotFoundError:
        raise Invalid("{folder} has no manifest.toml", folder=str(source)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("{folder}/manifest.toml is not a pack manifest: {problem}", folder=str(source),
                      problem=str(exc)) from None
    if len(manifest.packs) != 1:
        raise Invalid("{folder}/manifest.toml must name exactly one pack", folder=str(source))
    (name, spec), = manifest.packs.items()
    if name not in load_manifest().packs:
        raise Invalid("{name} is not a pack the fleet knows: an update replaces the files of a pack devices run",
                      name=name)
    files = []
    for file in manifest.files_of(name):
        path = source / file.filename
        if not path.is_file():
            raise Invalid("{folder} lacks {file}, which its manifest names", folder=str(source), file=file.filename)
        digest, size = sha256_of(path), path.stat().st_size
        if (digest, size) != (file.sha256, file.size):
            raise Invalid("{file} does not match its manifest (sha256 {sha256}, {size} bytes)",
                          file=file.filename, sha256=digest, size=size)
        files.append({"name": file.filename, "sha256": digest, "size": size})
    references = sorted(p for p in (source / "reference").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not 1 <= len(references) <= MAX_REFERENCES:
        raise Invalid("{folder}/reference must hold 1 to {most} face photos for the pack's self-test",
                      folder=str(source), most=MAX_REFERENCES)
    try:
        pack: LoadedPack = fleet_pack(name)
    except ModelFileError as exc:
        raise Invalid("the gateway cannot open pack {name} to make the self-test: {problem}", name=name,
                      problem=str(exc)) from None
    reference = []
    for number, path in enumerate(references, start=1):
        image = read_image(path)
        made = template_from_image(image, pack, quality) if image is not None else "not an image"
        if isinstance(made, str):
            raise Invalid("reference photo {file}: {problem}", file=path.name, problem=str(made))
        stored = f"reference-{number}{path.suffix.lower()}"
        files.append({"name": stored, "sha256": sha256_of(path), "size": path.stat().st_size})
        reference.append({"file": stored, "embedding": embedding_text(made.embedding)})
    manifest_text = (source / "manifest.toml").read_text(encoding="utf-8")
    with store.db.transaction() as tx:
        version = store.updates.add_pack(tx, name, files, manifest_text, reference, actor)
        folder = pack_folder(updates_dir, name, version)
        _keep(source, references, manifest, name, folder)
        tx.audit(actor, "pack.published", name, {"version": version, "files": files})
    return store.updates.pack(name, version)


def _keep(source: Path, references: list[Path], manifest, name: str, folder: Path) -> None:
    """Copy the pack's files into `folder`, owner-only."""
    copies = [(source / f.filename, f.filename) for f in manifest.files_of(name)]
    copies += [(path, f"reference-{n}{path.suffix.lower()}") for n, path in enumerate(references, start=1)]
    copies.append((source / "manifest.toml", "manifest.toml"))
    copy_owner_only(copies, folder)
