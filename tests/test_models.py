"""Model packs: hash pinning, detection, alignment, embedding."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from insightface.utils import face_align

from conftest import YUNET_DIR, sample_t1
from models import ModelFileError, RuntimeSettings, align_faces, load_manifest, load_pack
from models.manifest import resolve_file


def test_altered_model_file_is_refused_naming_file_and_hash(tmp_path):
    spec = load_manifest().files["yunet_2023mar"]
    tampered = tmp_path / spec.filename
    data = bytearray((YUNET_DIR / spec.filename).read_bytes())
    data[1000] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as err:
        resolve_file(spec, [tmp_path, YUNET_DIR])
    assert spec.filename in str(err.value) and spec.sha256 in str(err.value)


def test_missing_model_file_is_refused_naming_file_and_hash(tmp_path):
    spec = load_manifest().files["sface_2021dec"]  # download-only: no local copy anywhere
    with pytest.raises(ModelFileError) as err:
        load_pack("yunet_sface", [tmp_path, YUNET_DIR], RuntimeSettings())
    assert spec.filename in str(err.value) and spec.sha256 in str(err.value)


def test_cli_refuses_altered_model_with_exit_code(tmp_path):
    spec = load_manifest().files["yunet_2023mar"]
    (tmp_path / spec.filename).write_bytes(b"not a model")
    result = subprocess.run(
        [sys.executable, "-m", "facegate", "models", "verify", "--pack", "yunet_mbf"],
        capture_output=True, text=True, env={"FACEGATE_MODELS__DIR": str(tmp_path), "PATH": ""},
    )
    assert result.returncode == 1
    assert "MISSING OR ALTERED" in result.stdout and spec.sha256 in result.stdout


def test_every_manifest_file_is_pinned_with_licence_and_source():
    manifest = load_manifest()
    for spec in manifest.files.values():
        assert len(spec.sha256) == 64 and spec.size > 0 and spec.licence and spec.sources, spec.key
    assert {"buffalo_s", "yunet_mbf", "yunet_sface"} <= set(manifest.packs)


@pytest.mark.parametrize("which", ["pack", "yunet_pack"])
def test_all_six_faces_of_t1_are_detected(which, request):
    detector = request.getfixturevalue(which).detector
    image = cv2.imread(str(sample_t1()))
    detections = detector.detect(image)
    assert len(detections) == 6
    # Landmarks sit inside their boxes, left eye left of right eye.
    for box, points in zip(detections.boxes, detections.landmarks):
        assert (points[:, 0] >= box[0] - 2).all() and (points[:, 0] <= box[2] + 2).all()
        assert points[0, 0] < points[1, 0]


def test_detector_accepts_any_input_size(pack):
    image = cv2.imread(str(sample_t1()))
    for w, h in [(333, 217), (1280, 720), (2000, 1385)]:
        assert len(pack.detector.detect(cv2.resize(image, (w, h)))) >= 5


def test_alignment_matches_insightface_face_align(pack):
    image = cv2.imread(str(sample_t1()))
    detections = pack.detector.detect(image)
    ours = align_faces(image, detections.landmarks)
    for crop, points in zip(ours, detections.landmarks):
        reference = face_align.norm_crop(image, points)
        assert np.abs(crop.astype(int) - reference.astype(int)).mean() < 1.0


def test_embeddings_are_unit_length_and_batching_changes_nothing(pack):
    image = cv2.imread(str(sample_t1()))
    crops = align_faces(image, pack.detector.detect(image).landmarks)
    batch = pack.embedder.embed(crops)
    single = np.concatenate([pack.embedder.embed(c[None]) for c in crops])
    assert batch.shape == (6, 512)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batch, single, atol=1e-4)
    # Six different people: no two of them look alike to the model.
    similarity = batch @ batch.T
    assert (similarity[~np.eye(6, dtype=bool)] < 0.3).all()


def test_yunet_and_scrfd_templates_agree(pack, yunet_pack):
    image = cv2.imread(str(sample_t1()))
    a = pack.embedder.embed(align_faces(image, pack.detector.detect(image).landmarks))
    b = yunet_pack.embedder.embed(align_faces(image, yunet_pack.detector.detect(image).landmarks))
    # The same person found by either detector matches far above any threshold.
    assert (np.sort((a @ b.T).max(axis=1)) > 0.36).sum() >= 5


def test_altered_optimised_graph_cache_is_rebuilt_not_trusted(tmp_path):
    spec = load_manifest().files["yunet_2023mar"]
    settings = RuntimeSettings(cache_dir=tmp_path)
    from models.runtime import create_session

    create_session(YUNET_DIR / spec.filename, spec.sha256, settings)
    cached = next(tmp_path.glob("*.onnx"))
    cached.write_bytes(b"tampered")
    session = create_session(YUNET_DIR / spec.filename, spec.sha256, settings)  # rebuilt from the pinned file
    assert session.get_inputs()[0].shape == [1, 3, 640, 640]
    assert cached.read_bytes() != b"tampered"
