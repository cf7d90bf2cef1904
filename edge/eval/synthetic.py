"""Generated camera streams: real face photos moving across a background.

The camera is the hardware boundary, so demos, tests and benchmarks replace it
with a video file built here from real face images.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Walker:
    """One person crossing the view: a face patch that enters, moves, and leaves."""

    patch: np.ndarray  # BGR image of the head with some context
    enter_s: float
    exit_s: float
    y: int  # top edge, in frame pixels
    x_from: int
    x_to: int

    def position(self, t: float) -> tuple[int, int] | None:
        if not self.enter_s <= t < self.exit_s:
            return None
        progress = (t - self.enter_s) / max(self.exit_s - self.enter_s, 1e-6)
        return round(self.x_from + (self.x_to - self.x_from) * progress), self.y


def face_patch(image: np.ndarray, box: np.ndarray, height: int, margin: float = 0.5) -> np.ndarray:
    """Crop a face with `margin` (fraction of its size) around it, scaled to `height` px."""
    x1, y1, x2, y2 = box[:4]
    w, h = x2 - x1, y2 - y1
    x1, x2 = int(max(0, x1 - margin * w)), int(min(image.shape[1], x2 + margin * w))
    y1, y2 = int(max(0, y1 - margin * h)), int(min(image.shape[0], y2 + margin * h))
    crop = image[y1:y2, x1:x2]
    scale = height / crop.shape[0]
    return cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height), interpolation=cv2.INTER_CUBIC)


def portrait(path: Path, size: int) -> np.ndarray:
    """A whole photo scaled so that its longer side is `size` px: a person standing before the camera."""
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"cannot read the photo {path}")
    scale = size / max(image.shape[:2])
    return cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                      interpolation=cv2.INTER_CUBIC)


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A plain wall-like backdrop: a soft gradient with a little texture."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:height, :width]
    base = 90 + 60 * (xs / width) + 30 * (ys / height)
    frame = np.stack([base * 0.9, base, base * 1.1], axis=-1) + rng.normal(0, 4, (height, width, 1))
    return np.clip(frame, 0, 255).astype(np.uint8)


def render(walkers: list[Walker], width: int, height: int, fps: float, seconds: float) -> Iterator[np.ndarray]:
    """Frames of the walkers crossing a fixed background."""
    backdrop = background(width, height)
    for i in range(int(round(seconds * fps))):
        frame = backdrop.copy()
        t = i / fps
        for walker in walkers:
            paste(frame, walker.patch, walker.position(t))
        yield frame


def paste(frame: np.ndarray, patch: np.ndarray, position: tuple[int, int] | None) -> None:
    """Draw `patch` with its top-left corner at `position` (None: not in view), clipped to the frame."""
    if position is None:
        return
    x, y = position
    height, width = frame.shape[:2]
    ph, pw = patch.shape[:2]
    fx1, fy1, fx2, fy2 = max(x, 0), max(y, 0), min(x + pw, width), min(y + ph, height)
    if fx1 < fx2 and fy1 < fy2:
        frame[fy1:fy2, fx1:fx2] = patch[fy1 - y:fy2 - y, fx1 - x:fx2 - x]


def write_video(path: Path, frames: Iterator[np.ndarray], fps: float) -> Path:
    """Encode frames to a video file any OpenCV build can read back (MJPEG in AVI)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for frame in frames:
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame.shape[1], frame.shape[0]))
                if not writer.isOpened():
                    raise RuntimeError(f"cannot write video {path}")
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path


def scene_video(path: Path, scenes: list[tuple[float, float, np.ndarray, int, int]], width: int, height: int,
                fps: float, seconds: float, seed: int = 0) -> Path:
    """A fixed camera's video: each scene (start, end, picture, x, y) shows `picture` with its top-left corner
    near (x, y) from `start` to `end` seconds, swaying by a pixel or two as a person standing there does."""
    wall = background(width, height, seed)

    def frame(i: int) -> np.ndarray:
        t, image = i / fps, wall.copy()
        for start, end, picture, x, y in scenes:
            if start <= t < end:
                paste(image, picture[:height - y], (round(x + 2 * np.sin(i)), round(y + 2 * np.cos(i))))
        return image
    return write_video(path, (frame(i) for i in range(int(seconds * fps))), fps)


def read_video(path: Path) -> Iterator[np.ndarray]:
    """Every frame of a video file, in order, on the caller's thread (no real-time pacing, nothing dropped)."""
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield image
    finally:
        capture.release()


@dataclass
class Sitter:
    """Someone at an exam desk: a face patch that sways a little while present."""

    patch: np.ndarray
    start_s: float
    end_s: float
    x: int
    y: int

    def position(self, t: float) -> tuple[int, int] | None:
        if not self.start_s <= t < self.end_s:
            return None
        return round(self.x + 6 * np.sin(0.7 * t)), round(self.y + 3 * np.sin(0.5 * t + 1))


def desk_frames(sitters: list[Sitter], seconds: float, fps: float = 5.0, width: int = 640, height: int = 480,
                covered: list[tuple[float, float]] = ()) -> Iterator[tuple[float, np.ndarray]]:
    """(time, frame) of an exam-desk camera: the sitters present at each moment; black while covered."""
    backdrop = background(width, height, seed=3)
    for i in range(int(round(seconds * fps))):
        t = i / fps
        if any(a <= t < b for a, b in covered):
            yield t, np.full((height, width, 3), 8, np.uint8)
            continue
        frame = backdrop.copy()
        for sitter in sitters:
            paste(frame, sitter.patch, sitter.position(t))
        yield t, frame
