"""Model pack folders as a publisher hands them over, and `facegate packs publish` run on a test stack's files
(test_pack_updates, benchmarks/fleet_update.py)."""

from __future__ import annotations

import json
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
