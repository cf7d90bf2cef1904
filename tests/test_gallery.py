"""Gallery: enrolment checks with per-photo reasons, 1:N search, 1:1 verify."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import DATA, sample_t1
from edge.vision.enrolment import build_gallery
from edge.vision.gallery import GalleryIndex, GalleryStore


def test_bad_photos_are_rejected_with_reasons_and_good_ones_enrolled(tmp_path, pack, config):
    photos = tmp_path / "photos"
    photos.mkdir()
    lin = cv2.imread(str(DATA / "video" / "lin-manuel-miranda.png"))
    cv2.imwrite(str(photos / "lin.jpg"), lin)
    cv2.imwrite(str(photos / "grey.png"), cv2.cvtColor(lin, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(photos / "alpha.png"), cv2.cvtColor(lin, cv2.COLOR_BGR2BGRA))
    cv2.imwrite(str(photos / "group.jpg"), cv2.imread(str(sample_t1())))
    cv2.imwrite(str(photos / "tiny.jpg"), cv2.resize(lin, (60, 52)))
    cv2.imwrite(str(photos / "wall.jpg"), np.full((300, 300, 3), 128, np.uint8))
    (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 50)
    (photos / "notes.txt").write_text("not a photo")
    # A sub-folder names its subject: two photos of one person.
    (photos / "alex").mkdir()
    alex = cv2.imread(str(DATA / "video" / "alex-lacamoire.png"))
    cv2.imwrite(str(photos / "alex" / "a.jpg"), alex)
    cv2.imwrite(str(photos / "alex" / "b.jpg"), cv2.flip(alex, 1))

    store = GalleryStore(tmp_path / "gallery.db")
    results = {r.path.split("/photos/")[1]: r for r in build_gallery(photos, store, pack, config.quality)}

    assert {k for k, r in results.items() if r.enrolled} == {"lin.jpg", "grey.png", "alpha.png", "alex/a.jpg", "alex/b.jpg"}
    assert "6 faces" in results["group.jpg"].reason
    assert "too small" in results["tiny.jpg"].reason
    assert results["wall.jpg"].reason == "no face found"
    assert "decode" in results["corrupt.jpg"].reason
    assert "not an image" in results["notes.txt"].reason
    assert store.subjects() == ["alex", "alpha", "grey", "lin"]
    index = GalleryIndex.from_store(store, pack.name)
    assert len(index) == 5 and index.subject_count == 4


def test_gallery_build_cli_prints_per_photo_results(tmp_path):
    photos = tmp_path / "p"
    photos.mkdir()
    cv2.imwrite(str(photos / "lin.png"), cv2.imread(str(DATA / "video" / "lin-manuel-miranda.png")))
    cv2.imwrite(str(photos / "group.jpg"), cv2.imread(str(sample_t1())))
    out = subprocess.run([sys.executable, "-m", "facegate", "gallery", "build", str(photos), "--out",
                          str(tmp_path / "g.db")], capture_output=True, text=True, check=True).stdout
    assert "lin\tenrolled" in out and "group\tREJECTED: 6 faces" in out
    assert "1 of 2 photos enrolled" in out


def test_search_returns_best_distinct_subjects_and_verify_scores_one(tmp_path):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    subjects = [f"s{i // 2}" for i in range(50)]  # two templates per subject
    store = GalleryStore(tmp_path / "g.db")
    for s, v in zip(subjects, vectors):
        store.add(s, "buffalo_s", v)
    index = GalleryIndex.from_store(store, "buffalo_s")
    probe = vectors[7] + 0.05 * rng.normal(size=512).astype(np.float32)
    probe /= np.linalg.norm(probe)
    best, runner_up = index.search(probe, k=2)
    assert best.subject == "s3" and runner_up.subject != "s3" and best.score > 0.5 > runner_up.score
    assert index.verify(probe, "s3") == pytest.approx(best.score, abs=1e-5)
    assert index.verify(probe, "nobody") is None
    assert GalleryIndex.from_store(store, "other_pack").search(probe) == []


def test_large_gallery_search_finds_the_same_subject_as_exact_search():
    rng = np.random.default_rng(2)
    n = 30000
    templates = rng.normal(size=(n, 512)).astype(np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    subjects = [f"s{i}" for i in range(n)]
    coarse = GalleryIndex(subjects, templates, coarse_from=20000)
    exact = GalleryIndex(subjects, templates, coarse_from=10**9)
    assert coarse.coarse is not None and exact.coarse is None
    for target in rng.choice(n, 50, replace=False):
        # A genuine probe at cosine ~0.5 to its template: a hard but real match.
        noise = rng.normal(size=512).astype(np.float32)
        noise -= (noise @ templates[target]) * templates[target]
        probe = 0.5 * templates[target] + np.sqrt(0.75) * noise / np.linalg.norm(noise)
        assert coarse.search(probe, k=1) == exact.search(probe, k=1)
        assert exact.search(probe, k=1)[0].subject == f"s{target}"
