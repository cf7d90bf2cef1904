"""YuNet face detector (OpenCV Zoo, MIT), five landmarks.

The 2023mar export has a fixed 640x640 input, so frames are letterboxed into it;
any image size works. Decoding follows OpenCV's FaceDetectorYN.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from models.detection import Detections, letterbox, merge_levels

_STRIDES = (8, 16, 32)


class YuNet:
    name = "yunet"

    def __init__(self, session: ort.InferenceSession, score_threshold: float = 0.6, nms_threshold: float = 0.3):
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        self.input_h, self.input_w = int(inp.shape[2]), int(inp.shape[3])
        names = [o.name for o in session.get_outputs()]
        self.output_names = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in _STRIDES]
        missing = set(self.output_names) - set(names)
        if missing:
            raise ValueError(f"not a YuNet export: outputs {sorted(missing)} missing")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._grid_cache: dict[int, np.ndarray] = {}

    def _grid(self, stride: int) -> np.ndarray:
        grid = self._grid_cache.get(stride)
        if grid is None:
            rows, cols = self.input_h // stride, self.input_w // stride
            ys, xs = np.mgrid[:rows, :cols]
            grid = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32)
            self._grid_cache[stride] = grid
        return grid

    def detect(self, image: np.ndarray, enlarge: bool = True) -> Detections:
        """`enlarge` is moot: the input is 640x640 whatever the image (see the module's docstring)."""
        h, w = image.shape[:2]
        scale = min(self.input_h / h, self.input_w / w)
        canvas = letterbox(image, self.input_h, self.input_w, scale)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)  # BGR, 0..255, no normalisation
        out = dict(zip(self.output_names, self.session.run(self.output_names, {self.input_name: blob})))

        boxes, scores, kps = [], [], []
        for stride in _STRIDES:
            cls = np.clip(out[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
            obj = np.clip(out[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
            score = np.sqrt(cls * obj)
            keep = np.nonzero(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            grid = self._grid(stride)[keep]
            bbox = out[f"bbox_{stride}"].reshape(-1, 4)[keep]
            centre = (grid + bbox[:, :2]) * stride
            size = np.exp(bbox[:, 2:]) * stride
            boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
            points = (out[f"kps_{stride}"].reshape(-1, 5, 2)[keep] + grid[:, None, :]) * stride
            kps.append(points)
            scores.append(score[keep])
        return merge_levels(boxes, scores, kps, scale, self.nms_threshold)
