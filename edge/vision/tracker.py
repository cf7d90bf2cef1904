"""Face tracker: one id per person across frames, ended when the person leaves.

Detections are associated to tracks by overlap (IoU) with each track's box
moved forward by its recent velocity, greedily, best overlap first. It needs no
appearance model: at a gate people walk one way and rarely cross, and a track
split is repaired downstream (the gate policy recognises a recent person).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models import Detections


@dataclass
class Track:
    id: int
    box: np.ndarray  # x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2)
    score: float
    first_seen: float
    last_seen: float
    hits: int = 1
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # px/s per box edge

    def predicted_box(self, timestamp: float) -> np.ndarray:
        return self.box + self.velocity * (timestamp - self.last_seen)


@dataclass
class TrackUpdate:
    matched: list[tuple[Track, int]]  # (track, index into the detections); new tracks included
    ended: list[Track]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (N,4) and b (M,4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


class Tracker:
    def __init__(self, iou_threshold: float = 0.3, lost_after_s: float = 1.0):
        self.iou_threshold = iou_threshold
        self.lost_after_s = lost_after_s
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def update(self, detections: Detections, timestamp: float) -> TrackUpdate:
        """Associate one frame's detections; returns matches and tracks that ended."""
        tracks = list(self.tracks.values())
        predicted = np.array([t.predicted_box(timestamp) for t in tracks], np.float32).reshape(-1, 4)
        overlap = iou_matrix(predicted, detections.boxes)
        matched: list[tuple[Track, int]] = []
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for flat in np.argsort(-overlap, axis=None):
            ti, di = divmod(int(flat), overlap.shape[1])
            if overlap[ti, di] < self.iou_threshold:
                break
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            track = tracks[ti]
            self._refresh(track, detections, di, timestamp)
            matched.append((track, di))
        for di in range(len(detections)):
            if di not in used_dets:
                track = Track(id=self._next_id, box=detections.boxes[di].copy(), landmarks=detections.landmarks[di].copy(),
                              score=float(detections.scores[di]), first_seen=timestamp, last_seen=timestamp)
                self._next_id += 1
                self.tracks[track.id] = track
                matched.append((track, di))
        return TrackUpdate(matched=matched, ended=self.expire(timestamp))

    def expire(self, timestamp: float) -> list[Track]:
        """End the tracks not seen for `lost_after_s` (call on frames without detection too)."""
        ended = [t for t in self.tracks.values() if timestamp - t.last_seen > self.lost_after_s]
        for track in ended:
            del self.tracks[track.id]
        return ended

    def end_all(self) -> list[Track]:
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended

    @staticmethod
    def _refresh(track: Track, detections: Detections, di: int, timestamp: float) -> None:
        dt = timestamp - track.last_seen
        box = detections.boxes[di]
        if dt > 0:
            # Smoothed, so one jittery detection does not throw the prediction off.
            track.velocity = 0.5 * track.velocity + 0.5 * (box - track.box) / dt
        track.box = box.copy()
        track.landmarks = detections.landmarks[di].copy()
        track.score = float(detections.scores[di])
        track.last_seen = timestamp
        track.hits += 1
