"""A generated gate stream: six real faces walk past, four of them enrolled."""

from __future__ import annotations

import time
from collections import Counter

from edge.vision.camera import Camera
from edge.settings import CameraSettings
from edge.node.demo import prepare
from edge.vision.gallery import GalleryIndex, GalleryStore
from edge.vision.pipeline import FacePipeline


def test_enrolled_people_granted_once_and_strangers_never(tmp_path, pack, config):
    gallery, stream = prepare(tmp_path, pack, config)
    index = GalleryIndex.from_store(GalleryStore(gallery), pack.name)
    assert index.subject_count == 4
    pipeline = FacePipeline(pack, index, config)
    verdicts = []
    last = 0.0
    for frame in Camera(str(stream)).frames():
        verdicts += pipeline.process(frame)
        last = frame.timestamp
    verdicts += pipeline.finish(last)

    granted = Counter(v.subject for v in verdicts if v.verdict == "granted")
    assert granted == Counter({f"Person-{n}": 1 for n in range(1, 5)})
    assert [v.verdict for v in verdicts].count("unknown") >= 1  # Person-6, never enrolled
    assert len(verdicts) <= 6  # one per person passing, out of 325 frames
    assert pipeline.stats.frames == 325
    # Work is spent only on undecided people: far fewer embeddings than detections.
    assert pipeline.stats.embedded < pipeline.stats.detections / 4


def test_live_source_hands_over_the_newest_frame_and_counts_drops(tmp_path, pack, config):
    _, stream = prepare(tmp_path, pack, config)
    camera = Camera(str(stream), CameraSettings(), realtime=True)
    seen = []
    for frame in camera.frames():
        seen.append(frame.index)
        time.sleep(0.12)  # a loop three times slower than the 25 fps stream
        if len(seen) == 15:
            break
    camera.stop()
    assert seen == sorted(seen)
    assert seen[-1] - seen[0] > 30  # it skipped ahead instead of queueing a backlog
    assert camera.stats.frames_dropped > 20
