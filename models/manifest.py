"""The model manifest: which files make a pack, their hashes, sources and licences.

Files are looked up locally (model directory, extra search paths, files shipped in
installed Python packages) and every candidate is checked against its pinned
SHA-256 before use. A file that is missing everywhere, or present with the wrong
hash, is refused with an error naming the file and the expected hash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("manifest.toml")


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its pinned hash."""


@dataclass(frozen=True)
class FileSpec:
    key: str
    filename: str
    sha256: str
    size: int
    kind: str
    licence: str
    sources: tuple[str, ...]
    input: dict = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [s for s in self.sources if s.startswith(("http://", "https://"))]


@dataclass(frozen=True)
class PackSpec:
    name: str
    description: str
    detector: FileSpec
    embedder: FileSpec
    licence: str
    identify_threshold: float
    verify_threshold: float
    margin: float
    # A face this close to one subject on its own decides at once (GatePolicy's early decision); None: never early
    early_threshold: float | None = None


@dataclass(frozen=True)
class PadSpec:
    """A presentation-attack detector: models, each with its crop scale, and the pass threshold."""

    name: str
    description: str
    models: tuple[tuple[FileSpec, float], ...]
    licence: str
    live_threshold: float


@dataclass(frozen=True)
class Manifest:
    packs: dict[str, PackSpec]
    files: dict[str, FileSpec]
    pad: dict[str, PadSpec] = field(default_factory=dict)

    def pack(self, name: str) -> PackSpec:
        try:
            return self.packs[name]
        except KeyError:
            known = ", ".join(sorted(self.packs))
            raise ModelFileError(f"unknown model pack {name!r}; known packs: {known}") from None

    def files_of(self, name: str) -> list[FileSpec]:
        """The pinned files of a model pack, or of a liveness model (`[pad.*]`)."""
        if name in self.pad:
            return [file for file, _ in self.pad[name].models]
        pack = self.pack(name)
        return [pack.detector, pack.embedder]


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Parse a manifest TOML file into packs and files."""
    return parse_manifest(Path(path).read_text(encoding="utf-8"))


def parse_manifest(text: str) -> Manifest:
    """Parse a manifest's TOML text (a pack update carries one) into packs and files."""
    raw = tomllib.loads(text)
    files = {
        key: FileSpec(
            key=key,
            filename=f["filename"],
            sha256=f["sha256"].lower(),
            size=int(f["size"]),
            kind=f["kind"],
            licence=f["licence"],
            sources=tuple(f.get("sources", ())),
            input=dict(f.get("input", {})),
        )
        for key, f in raw.get("files", {}).items()
    }
    packs = {}
    for name, p in raw.get("packs", {}).items():
        packs[name] = PackSpec(
            name=name,
            description=p.get("description", ""),
            detector=files[p["detector"]],
            embedder=files[p["embedder"]],
            licence=p.get("licence", ""),
            identify_threshold=float(p["identify_threshold"]),
            verify_threshold=float(p["verify_threshold"]),
            margin=float(p["margin"]),
            early_threshold=float(p["early_threshold"]) if "early_threshold" in p else None,
        )
    pad = {
        name: PadSpec(name=name, description=p.get("description", ""),
                      models=tuple((files[m["file"]], float(m["scale"])) for m in p["models"]),
                      licence=p.get("licence", ""), live_threshold=float(p["live_threshold"]))
        for name, p in raw.get("pad", {}).items()
    }
    return Manifest(packs=packs, files=files, pad=pad)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(spec: FileSpec, path: Path) -> Path:
    """Return `path` if it holds exactly the pinned file, else raise ModelFileError."""
    if not path.is_file():
        raise ModelFileError(f"model file {spec.filename} not found at {path} (expected sha256 {spec.sha256})")
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelFileError(
            f"model file {path} refused: sha256 {actual} does not match the pinned "
            f"sha256 {spec.sha256} for {spec.filename}"
        )
    return path


def _package_file(source: str) -> Path | None:
    # "package:<distribution>/<path inside site-packages>". Located through the
    # distribution's metadata so the package itself is never imported.
    dist_name, _, rel = source.removeprefix("package:").partition("/")
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(dist.locate_file(rel))


def candidate_paths(spec: FileSpec, search_dirs: list[Path]) -> list[Path]:
    """Every local place the file may be, in the order they are tried."""
    paths = [Path(d) / spec.filename for d in search_dirs]
    for source in spec.sources:
        if source.startswith("package:"):
            found = _package_file(source)
            if found is not None:
                paths.append(found)
    return paths


def resolve_file(spec: FileSpec, search_dirs: list[Path]) -> Path:
    """Find the first local copy of `spec` and verify it.

    A copy with a wrong hash is refused outright rather than skipped: a tampered
    or corrupt model in the model directory must be noticed, not shadowed.
    """
    for path in candidate_paths(spec, search_dirs):
        if path.is_file():
            return verify_file(spec, path)
    where = ", ".join(str(d) for d in search_dirs) or "(no directories)"
    hint = f"; fetch it with `facegate models fetch` from {spec.urls[0]}" if spec.urls else ""
    raise ModelFileError(
        f"model file {spec.filename} is missing (expected sha256 {spec.sha256}); "
        f"looked in {where} and the installed packages{hint}"
    )
