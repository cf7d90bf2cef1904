"""Quality gate: only faces good enough to match are matched.

Two steps, cheapest first: geometry from the landmarks (size, pose) before the
face is aligned, then pixels of the aligned 112x112 crop (sharpness,
brightness) before it is embedded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pydantic import BaseModel, ConfigDict

from models.reasons import Reason


class QualitySettings(BaseModel):
    """The floor a face must clear to be matched or enrolled (edge and gateway use the same one)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a default kept silently

    min_detection_score: float = 0.6
    min_eye_distance_px: float = 20.0
    max_yaw: float = 0.45  # nose offset from the eye midline, in eye distances
    max_pitch: float = 0.45  # deviation of the nose's height between eyes and mouth
    min_sharpness: float = 40.0  # variance of the Laplacian on the 112x112 crop
    min_brightness: float = 40.0
    max_brightness: float = 220.0


@dataclass
class Quality:
    eye_distance: float
    yaw: float
    pitch: float
    sharpness: float = 0.0
    brightness: float = 0.0
    reason: str | None = None  # why the face was rejected; None = accepted

    @property
    def ok(self) -> bool:
        return self.reason is None

    def score(self, settings: QualitySettings) -> float:
        """0..1, higher is better: weights frames when a track's templates are combined."""
        size = min(1.0, self.eye_distance / (3 * settings.min_eye_distance_px))
        pose = max(0.0, 1.0 - max(abs(self.yaw) / settings.max_yaw, abs(self.pitch) / settings.max_pitch) * 0.5)
        sharp = min(1.0, self.sharpness / (4 * settings.min_sharpness)) if self.sharpness else 0.5
        return round(float(size * pose * (0.5 + 0.5 * sharp)), 4)


def geometry(landmarks: np.ndarray, score: float, settings: QualitySettings) -> Quality:
    """Size and pose from five landmarks; rejects before any pixel work."""
    left_eye, right_eye, nose, left_mouth, right_mouth = landmarks.astype(np.float64)
    eye_vec = right_eye - left_eye
    eye_distance = float(np.hypot(*eye_vec))
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (left_mouth + right_mouth) / 2
    # Put the nose in the face's own frame (x along the eyes) so head roll does not count as yaw.
    axis_x = eye_vec / max(eye_distance, 1e-6)
    axis_y = np.array([-axis_x[1], axis_x[0]])
    nose_rel = nose - eye_mid
    yaw = float(nose_rel @ axis_x) / max(eye_distance, 1e-6)
    face_height = float((mouth_mid - eye_mid) @ axis_y)
    # Frontal faces put the nose tip about 55 % of the way from the eyes to the mouth.
    pitch = float(nose_rel @ axis_y) / max(face_height, 1e-6) - 0.55 if face_height > 0 else 1.0
    quality = Quality(eye_distance=eye_distance, yaw=yaw, pitch=pitch)
    if score < settings.min_detection_score:
        quality.reason = Reason("low detection score: {score} < {limit}", score=f"{score:.2f}",
                                limit=settings.min_detection_score)
    elif eye_distance < settings.min_eye_distance_px:
        quality.reason = Reason("face too small: eye distance {px}px < {limit}px", px=f"{eye_distance:.0f}",
                                limit=f"{settings.min_eye_distance_px:.0f}")
    elif abs(yaw) > settings.max_yaw:
        quality.reason = Reason("head turned: yaw {yaw} beyond ±{limit}", yaw=f"{yaw:+.2f}", limit=settings.max_yaw)
    elif abs(pitch) > settings.max_pitch:
        quality.reason = Reason("head tilted: pitch {pitch} beyond ±{limit}", pitch=f"{pitch:+.2f}",
                                limit=settings.max_pitch)
    return quality


def pixels(quality: Quality, crop: np.ndarray, settings: QualitySettings) -> Quality:
    """Sharpness and brightness of an aligned crop, added to `quality`."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    centre = gray[16:96, 16:96]  # the face itself, not the background in the crop's corners
    quality.sharpness = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    quality.brightness = float(centre.mean())
    if quality.reason is None:
        if quality.sharpness < settings.min_sharpness:
            quality.reason = Reason("blurred: sharpness {value} < {limit}", value=f"{quality.sharpness:.0f}",
                                    limit=f"{settings.min_sharpness:.0f}")
        elif quality.brightness < settings.min_brightness:
            quality.reason = Reason("too dark: brightness {value} < {limit}", value=f"{quality.brightness:.0f}",
                                    limit=f"{settings.min_brightness:.0f}")
        elif quality.brightness > settings.max_brightness:
            quality.reason = Reason("too bright: brightness {value} > {limit}", value=f"{quality.brightness:.0f}",
                                    limit=f"{settings.max_brightness:.0f}")
    return quality
