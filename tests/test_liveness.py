"""Liveness: the converted MiniFASNets, the samples through the whole pipeline, and liveness-off said out loud."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

import minifasnet_numpy
from conftest import CLIP, DATA, SHARED, WIDE_SHOT, clip_gallery
from edge.eval.synthetic import write_video
from edge.link.events import DeviceEvents
from edge.link.outbox import Outbox
from edge.node.feed import Feed
from edge.node.heartbeat import Heartbeats
from edge.vision.camera import Camera
from edge.vision.gallery import GalleryIndex
from edge.vision.liveness import LivenessChecker
from edge.vision.pipeline import FacePipeline
from models import load_manifest
from models.manifest import ModelFileError
from models.pad.minifasnet import build_onnx, prepare
from models.pad.pth import LEGACY_MAGIC, PthError, read_state_dict
from models.photos import template_from_image
from stack import REPO
from wire import DeviceKey

PAD = DATA / "pad"
MINIFASNET = SHARED / "models" / "minifasnet"
SAMPLES = {"image_T1.jpg": "live", "image_F1.jpg": "printed photo", "image_F2.jpg": "phone screen replay"}


@pytest.fixture(scope="module")
def pad_config(config):
    cfg = config.model_copy(deep=True)
    cfg.models.search_paths = [*cfg.models.search_paths, MINIFASNET]
    return cfg


@pytest.fixture(scope="module")
def liveness(pad_config):
    checker = LivenessChecker.open(pad_config)
    assert checker is not None
    return checker


def largest_face(pack, image):
    d = pack.detector.detect(image)
    i = int(np.argmax((d.boxes[:, 2] - d.boxes[:, 0]) * (d.boxes[:, 3] - d.boxes[:, 1])))
    return d.boxes[i]


def test_the_pth_reader_refuses_anything_but_a_state_dict(tmp_path):
    evil = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, evil, protocol=2)
    evil.write(b"cos\nsystem\n(S'echo owned'\ntR.")  # a pickle that would run a shell command
    path = tmp_path / "evil.pth"
    path.write_bytes(evil.getvalue())
    with pytest.raises(PthError, match="refusing to load os.system"):
        read_state_dict(path)
    weights = read_state_dict(MINIFASNET / "2.7_80x80_MiniFASNetV2.pth")
    assert weights["conv1.conv.weight"].shape == (32, 3, 3, 3) and len(weights) == 334


def test_altered_weights_are_refused_before_conversion(tmp_path):
    spec = load_manifest().pad["minifasnet"].models[0][0]
    altered = tmp_path / spec.filename
    data = bytearray((MINIFASNET / spec.filename).read_bytes())
    data[-100] ^= 1
    altered.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=spec.sha256):
        prepare(spec, [tmp_path], tmp_path / "out")


@pytest.mark.parametrize("filename", ["2.7_80x80_MiniFASNetV2.pth", "4_0_0_80x80_MiniFASNetV1SE.pth"])
def test_the_onnx_network_agrees_with_an_independent_numpy_computation(filename, pack):
    weights = read_state_dict(MINIFASNET / filename)
    session = ort.InferenceSession(build_onnx(weights).SerializeToString(), providers=["CPUExecutionProvider"])
    for sample in SAMPLES:
        image = cv2.imread(str(PAD / sample))
        x0, y0, x1, y1 = largest_face(pack, image).astype(int)
        crop = cv2.resize(image[max(y0, 0):y1, max(x0, 0):x1], (80, 80)).astype(np.float32).transpose(2, 0, 1)
        onnx_out = session.run(None, {"input": crop[None]})[0][0]
        numpy_out = minifasnet_numpy.forward(crop, weights)
        assert np.abs(onnx_out - numpy_out).max() < 1e-4


def still_stream(image: np.ndarray, path: Path, frames: int = 30, motion: float = 0.0) -> Path:
    """A camera looking at `image`: slight jitter, or (motion > 0) a pan and zoom as of a photo moved by hand."""
    h, w = image.shape[:2]

    def frame(i: int) -> np.ndarray:
        t = i / frames
        zoom = 1 + motion * 0.15 * t
        dx, dy = 2 * np.sin(i) + motion * 40 * t, 2 * np.cos(i) - motion * 20 * t
        m = np.float32([[zoom, 0, dx + (1 - zoom) * w / 2], [0, zoom, dy + (1 - zoom) * h / 2]])
        return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return write_video(path, (frame(i) for i in range(frames)), 15.0)


def run_stream(path: Path, pipeline: FacePipeline) -> list:
    verdicts, last = [], 0.0
    with Camera(str(path), pipeline.config.camera) as camera:
        for f in camera.frames():
            verdicts += pipeline.process(f)
            last = f.timestamp
    return verdicts + pipeline.finish(last)


@pytest.fixture(scope="module")
def enrolled_t1(pack, pad_config):
    template = template_from_image(cv2.imread(str(PAD / "image_T1.jpg")), pack, pad_config.quality)
    return GalleryIndex(["sample-person"], template.embedding[None])


@pytest.mark.parametrize("sample, expected", [
    ("image_T1.jpg", "granted"), ("image_F1.jpg", "spoof_suspected"), ("image_F2.jpg", "spoof_suspected")])
def test_the_pad_samples_through_the_full_pipeline(sample, expected, pack, pad_config, liveness, enrolled_t1,
                                                   tmp_path):
    stream = still_stream(cv2.imread(str(PAD / sample)), tmp_path / "cam.avi")
    verdicts = run_stream(stream, FacePipeline(pack, enrolled_t1, pad_config, liveness))
    assert [v.verdict for v in verdicts] == [expected]
    v = verdicts[0]
    assert v.liveness_enabled and (v.liveness >= 0.5) == (expected == "granted")


def test_a_printed_photo_moved_before_the_gate_is_never_granted(pack, pad_config, liveness, enrolled_t1, tmp_path):
    stream = still_stream(cv2.imread(str(PAD / "image_F1.jpg")), tmp_path / "attack.avi", frames=60, motion=1.0)
    config = pad_config.model_copy(deep=True)
    config.policy.reverify_interval_s = 1.0  # decide again and again while the photo is held up
    verdicts = run_stream(stream, FacePipeline(pack, enrolled_t1, config, liveness))
    assert verdicts and all(v.verdict == "spoof_suspected" for v in verdicts)
    assert all(v.subject in (None, "sample-person") for v in verdicts)


def edge_run(config_text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    gallery = clip_gallery(tmp_path / "gallery")
    (tmp_path / "site.toml").write_text(config_text)
    return subprocess.run([sys.executable, "-m", "facegate", "edge", "run", "--source", str(CLIP), "--gallery",
                           str(gallery), "--config", str(tmp_path / "site.toml")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_live_people_on_video_pass_liveness(tmp_path, model_dir):
    result = edge_run(f'[models]\ndir = "{model_dir}"\nsearch_paths = ["{MINIFASNET}"]\n' + WIDE_SHOT, tmp_path)
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert Counter(v["subject"] for v in verdicts if v["verdict"] == "granted") == {
        "alex-lacamoire": 1, "lin-manuel-miranda": 1}
    assert all(v["liveness_enabled"] and v["liveness"] is not None for v in verdicts)


def test_without_the_pad_model_liveness_is_off_and_every_verdict_and_heartbeat_says_so(tmp_path, model_dir, pack,
                                                                                      config):
    result = edge_run(f'[models]\ndir = "{tmp_path / "empty-models"}"\n' + WIDE_SHOT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "liveness is OFF" in result.stderr and "2.7_80x80_MiniFASNetV2.pth is missing" in result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert verdicts and all(v["liveness_enabled"] is False and v["liveness"] is None for v in verdicts)
    # The heartbeat of such a device says it too.
    cfg = config.model_copy(deep=True)
    cfg.models.dir = tmp_path / "empty-models"
    assert LivenessChecker.open(cfg) is None
    outbox = Outbox(tmp_path / "outbox.db")
    events = DeviceEvents("site-a", "gate-01", DeviceKey.generate(), outbox, pack.name)
    pipeline = FacePipeline(pack, GalleryIndex([], np.zeros((0, 512), np.float32)), cfg, None)
    Heartbeats(events, [Feed(Camera(str(CLIP), cfg.camera), pipeline)], 30).tick(force=True)
    body = json.loads(outbox.pending()[0].payload)["body"]
    assert body["kind"] == "heartbeat" and body["liveness_enabled"] is False
