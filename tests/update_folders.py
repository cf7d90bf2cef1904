"""Model pack and FaceGate release folders as a publisher hands them over, and `facegate packs publish` and
`facegate releases publish` run on a test stack's files (test_pack_updates, test_software_updates,
benchmarks/fleet_update.py)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from conftest import DATA
from models.manifest import candidate_paths, load_manifest, sha256_of
from models.settings import ModelSettings
from stack import REPO, Stack

LFW = DATA / "faces" / "lfw-devtest" / "images"
REFERENCES = [LFW / "Antonio_Palocci" / "Antonio_Palocci_0004.jpg", LFW / "Aaron_Tippin" / "Aaron_Tippin_0001.jpg"]


def make_pack(folder: Path, fixed_input: int | None = None, perturbed: bool = False) -> Path:
    """A buffalo_s pack folder as a publisher hands it over: its detector exported again (new bytes, same network),
    or with its input fixed to `fixed_input` pixels square (the reference photos still pass; a camera's 16:9 frames
    do not), or with the embedder's weights disturbed (`perturbed`: its templates no longer match the fleet's)."""
    folder.mkdir(parents=True)
    spec = load_manifest().pack("buffalo_s")
    local = {f.key: next(p for p in candidate_paths(f, ModelSettings().search_dirs()) if p.is_file())
             for f in (spec.detector, spec.embedder)}
    detector = onnx.load(str(local[spec.detector.key]))
    detector.producer_version = "facegate-test"
    if fixed_input:
        dims = detector.graph.input[0].type.tensor_type.shape.dim
        dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, fixed_input, fixed_input
    onnx.save(detector, str(folder / spec.detector.filename))
    if perturbed:
        embedder = onnx.load(str(local[spec.embedder.key]))
        rng = np.random.default_rng(7)
        for init in embedder.graph.initializer:
            weights = numpy_helper.to_array(init)
            if weights.dtype == np.float32 and weights.ndim == 4:
                noisy = weights + rng.normal(0, 0.5 * (float(weights.std()) or 1.0), weights.shape)
                init.CopyFrom(numpy_helper.from_array(noisy.astype(np.float32), init.name))
        onnx.save(embedder, str(folder / spec.embedder.filename))
    else:
        shutil.copyfile(local[spec.embedder.key], folder / spec.embedder.filename)
    raw = tomllib.loads((REPO / "models" / "manifest.toml").read_text())
    lines = ["[packs.buffalo_s]"] + [f"{k} = {json.dumps(v)}" for k, v in raw["packs"]["buffalo_s"].items()]
    for key in (spec.detector.key, spec.embedder.key):
        f, path = raw["files"][key], folder / raw["files"][key]["filename"]
        lines += [f"[files.{key}]", f'filename = "{f["filename"]}"', f'sha256 = "{sha256_of(path)}"',
                  f"size = {path.stat().st_size}", f'kind = "{f["kind"]}"', f"licence = {json.dumps(f['licence'])}",
                  f"[files.{key}.input]"] + [f"{k} = {json.dumps(v)}" for k, v in f["input"].items()]
    (folder / "manifest.toml").write_text("\n".join(lines) + "\n")
    (folder / "reference").mkdir()
    for n, photo in enumerate(REFERENCES):
        shutil.copyfile(photo, folder / "reference" / f"{n}.jpg")
    return folder


def publish(stack: Stack, folder: Path) -> subprocess.CompletedProcess:
    """`facegate packs publish FOLDER` on the stack's gateway files."""
    return subprocess.run([sys.executable, "-m", "facegate", "packs", "publish", str(folder), "--db", stack.db,
                           "--secrets-dir", str(stack.root / "secrets")], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


PACKAGES = ("edge", "models", "gateway", "provisioning", "wire", "facegate", "emrtd")


def make_release(folder: Path, version: str, broken: bool = False) -> Path:
    """A release folder: FaceGate's wheel at `version`, built from this checkout (`broken`: one that exits at once
    when started), and its requirements.lock pinning it -- and a few dependencies the devices have -- by hash."""
    source = folder / "source"
    source.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "README.md", source / "README.md")
    project = (REPO / "pyproject.toml").read_text()
    (source / "pyproject.toml").write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', project, 1))
    if broken:
        main = source / "facegate" / "__main__.py"
        main.write_text('raise SystemExit("this release is broken on purpose")\n' + main.read_text())
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(folder), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    shutil.rmtree(source)
    wheel = folder / f"facegate-{version}-py3-none-any.whl"
    lines = [f"facegate=={version} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"]
    for dependency in ("numpy", "onnxruntime", "paho-mqtt"):  # what the devices have: shared, not installed again
        fake = hashlib.sha256(dependency.encode()).hexdigest()  # the hash of a wheel no device needs to fetch
        lines.append(f"{dependency}=={importlib.metadata.version(dependency)} --hash=sha256:{fake}")
    (folder / "requirements.lock").write_text("\n".join(lines) + "\n")
    return folder


def publish_release(stack: Stack, folder: Path) -> subprocess.CompletedProcess:
    """`facegate releases publish FOLDER` on the stack's gateway files."""
    return subprocess.run([sys.executable, "-m", "facegate", "releases", "publish", str(folder), "--db", stack.db,
                           "--secrets-dir", str(stack.root / "secrets")], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
