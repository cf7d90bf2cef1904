"""INT8 on this CPU: ONNX Runtime static quantization (QDQ) of the buffalo_s detector and embedder, against the
float models (the baseline) in the same run -- kept only if faster here and within 0.1 point of accuracy.

    .venv/bin/python benchmarks/int8.py [--calibration 64]

1. Quantize (`onnxruntime.quantization.quantize_static`, QDQ, per-channel int8 weights, uint8 activations: ONNX
   Runtime's choice on x86; int8 activations measured slower still) with calibration data shaped as the edge feeds
   each model: 720p gate frames letterboxed for SCRFD (generated from LFW photos on a wall), aligned 112x112 LFW
   crops for MobileFaceNet. The calibration people are not the
   evaluation pairs' images (other LFW folders).
2. Speed: median ms per inference, one and two intra-op threads: the detector on a 640x384 input, the embedder on
   one crop.
3. Accuracy: LFW DevTest's 1,000 pairs (10-fold accuracy, as `make eval`) with each model float or int8.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.eval.pairs import embed_image, pair_metrics, pair_scores, read_pairs  # noqa: E402
from edge.eval.synthetic import background, paste, portrait  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from models import LoadedPack, align_faces  # noqa: E402
from models.detection import letterbox, letterbox_size  # noqa: E402
from models.embedder import Embedder  # noqa: E402
from models.manifest import load_manifest, resolve_file  # noqa: E402
from models.photos import detect_in_photo  # noqa: E402
from models.scrfd import SCRFD  # noqa: E402

SHARED = REPO.parent / "shared"
LFW = SHARED / "data" / "faces" / "lfw-devtest"


class Blobs(CalibrationDataReader):
    def __init__(self, name: str, blobs: list[np.ndarray]):
        self.name, self.blobs = name, iter(blobs)

    def get_next(self):
        blob = next(self.blobs, None)
        return None if blob is None else {self.name: blob}


def calibration(pack: LoadedPack, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(detector blobs, embedder blobs) from LFW people outside the evaluation pairs."""
    paired = {Path(p.a).parent.name for p in read_pairs(LFW / "pairs.csv")} | {
        Path(p.b).parent.name for p in read_pairs(LFW / "pairs.csv")}
    photos = [p for p in sorted((LFW / "images").glob("*/*.jpg")) if p.parent.name not in paired][:count]
    if len(photos) < count:  # every folder is paired: take the folders' later photos instead
        photos = sorted((LFW / "images").glob("*/*.jpg"))[::7][:count]
    det_blobs, emb_blobs = [], []
    wall = background(1280, 720)
    det: SCRFD = pack.detector
    for i, photo in enumerate(photos):
        frame = wall.copy()
        paste(frame, portrait(photo, 240 + (i * 37) % 300), (100 + (i * 53) % 700, 40 + (i * 29) % 200))
        pad_h, pad_w, scale = letterbox_size(720, 1280, det.max_side)
        det_blobs.append(cv2.dnn.blobFromImage(letterbox(frame, pad_h, pad_w, scale), 1.0 / 128.0, (pad_w, pad_h),
                                               (127.5, 127.5, 127.5), swapRB=True))
        image = cv2.imread(str(photo))
        found = detect_in_photo(image, det)
        if len(found):
            crop = align_faces(image, found.landmarks[:1])[0]
            emb = pack.embedder
            emb_blobs.append(cv2.dnn.blobFromImage(crop, 1.0 / emb.std, (emb.size, emb.size),
                                                   (emb.mean,) * 3, swapRB=emb.rgb))
    return det_blobs, emb_blobs


def quantize(source: Path, out: Path, input_name: str, blobs: list[np.ndarray]) -> Path:
    model = onnx.load(str(source))
    if model.opset_import[0].version < 13:  # per-channel DequantizeLinear (its `axis`) needs opset 13
        model = version_converter.convert_version(model, 13)
    upgraded, prepared = out.with_suffix(".opset.onnx"), out.with_suffix(".prep.onnx")
    onnx.save(model, str(upgraded))
    quant_pre_process(str(upgraded), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out), Blobs(input_name, blobs), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def speed(path: Path, blob: np.ndarray, threads: int, runs: int = 60) -> float:
    s = session(path, threads)
    feed = {s.get_inputs()[0].name: blob}
    s.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        s.run(None, feed)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def accuracy(pack: LoadedPack, det_path: Path, emb_path: Path) -> float:
    detector = SCRFD(session(det_path, 2), max_side=pack.detector.max_side,
                     score_threshold=pack.detector.score_threshold)
    e = pack.embedder
    embedder = Embedder(session(emb_path, 2), e.mean, e.std, e.rgb, e.name)
    variant = LoadedPack(spec=pack.spec, detector=detector, embedder=embedder)
    pairs = read_pairs(LFW / "pairs.csv")
    scores, no_face = pair_scores(pairs, lambda p: embed_image(p, variant), LFW)
    return pair_metrics(scores, np.array([p.same for p in pairs]), no_face)["accuracy_10fold"]["mean"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=int, default=64)
    args = parser.parse_args()
    config = EdgeConfig()
    config.models.search_paths = [SHARED / "models" / "yunet"]
    pack = open_pack(config)
    spec = load_manifest().pack("buffalo_s")
    det_fp32 = resolve_file(spec.detector, config.models.search_dirs())
    emb_fp32 = resolve_file(spec.embedder, config.models.search_dirs())
    det_blobs, emb_blobs = calibration(pack, args.calibration)
    with tempfile.TemporaryDirectory() as tmp:
        det_int8 = quantize(det_fp32, Path(tmp) / "det.int8.onnx", pack.detector.input_name, det_blobs)
        emb_int8 = quantize(emb_fp32, Path(tmp) / "emb.int8.onnx", pack.embedder.input_name, emb_blobs)
        print(f"\ncalibration: {len(det_blobs)} gate frames, {len(emb_blobs)} aligned crops\n")
        print(f"{'model':<26} {'threads':>7} {'float ms':>9} {'int8 ms':>8} {'speed-up':>9}")
        for name, fp32, int8, blob in (("SCRFD-500M 640x384", det_fp32, det_int8, det_blobs[0]),
                                       ("MobileFaceNet 112x112", emb_fp32, emb_int8, emb_blobs[0])):
            for threads in (1, 2):
                a, b = speed(fp32, blob, threads), speed(int8, blob, threads)
                print(f"{name:<26} {threads:>7} {a:>9.2f} {b:>8.2f} {a / b:>8.2f}x", flush=True)
        print(f"\n{'detector / embedder':<26} {'LFW DevTest 10-fold accuracy':>29}")
        base = None
        for label, det, emb in (("float / float (baseline)", det_fp32, emb_fp32), ("int8 / float", det_int8, emb_fp32),
                                ("float / int8", det_fp32, emb_int8), ("int8 / int8", det_int8, emb_int8)):
            acc = accuracy(pack, det, emb)
            base = acc if base is None else base
            print(f"{label:<26} {100 * acc:>28.2f}%  ({100 * (acc - base):+.2f} points)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
