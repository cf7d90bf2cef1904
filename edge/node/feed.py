"""One camera of a node, with the pipeline that decides what it sees: what the runner schedules and the
heartbeat reports on."""

from __future__ import annotations

from dataclasses import dataclass

from edge.vision.camera import Camera
from edge.vision.pipeline import FacePipeline
from edge.vision.qr import QrReader


@dataclass
class Feed:
    """One camera with its own pipeline (tracker, policy, motion gate) on the lane it watches; the model sessions
    behind the pipelines are shared by every feed of the node."""

    camera: Camera
    pipeline: FacePipeline
    direction: str | None = None  # which way people granted here go (the lane door's, else the camera's)
    last_ts: float = 0.0
    ended: bool = False
    error: str | None = None  # why this camera stopped early: its source given up, or a bad region of interest
    verdicts: int = 0
    qr: QrReader | None = None  # reads the QR tickets shown to it (the camera's `qr_fps`)

    @property
    def id(self) -> str:
        return self.camera.settings.id

    @property
    def trouble(self) -> str | None:
        """Why the camera stopped, or why a live camera delivers nothing right now (it is being reconnected)."""
        return self.error or self.camera.stats.error or self.camera.stats.down

    @property
    def lane(self) -> int:
        """The lane the camera watches: its verdicts open that lane's door."""
        return self.camera.settings.lane
