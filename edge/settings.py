"""One typed configuration object for an edge node, loaded from TOML and env.

Precedence: defaults < TOML file (`--config FILE`), or the gateway's document once one came (edge/link/
config_sync.py) < environment variables named FACEGATE_<SECTION>__<KEY> (e.g. FACEGATE_POLICY__FRAMES_NEEDED=5).
The schema itself is the wire's (wire/device_config.py): the gateway checks a document against it before sending.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from wire.device_config import (CameraSettings, DeviceConfig, DoorSettings, EventSettings, ExamSettings,
                                GateSettings, KioskSettings, LivenessSettings, MotionSettings, PolicySettings,
                                TrackerSettings)

__all__ = ["CameraSettings", "DoorSettings", "EdgeConfig", "EventSettings", "ExamSettings", "GateSettings",
           "KioskSettings", "LivenessSettings", "MotionSettings", "PolicySettings", "TrackerSettings", "load_config"]


class EdgeConfig(BaseSettings, DeviceConfig):
    """The device's settings (wire/device_config.py), with the environment read on top."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", env_nested_delimiter="__", extra="forbid")

    def camera_list(self, sources: list[str] | None = None) -> list[CameraSettings]:
        """The cameras to run: `[[cameras]]`, else `[camera]`. `sources` (repeated `--source`) give their
        sources in order, or, without `[[cameras]]`, make one camera each (cam-1 on lane 1, cam-2 on lane 2...)."""
        sources = list(sources or [])
        if self.cameras:
            if sources and len(sources) != len(self.cameras):
                raise ValueError(f"{len(sources)} --source given for {len(self.cameras)} [[cameras]]: "
                                 f"give one per camera, in order, or none to use each camera's own source")
            cameras = [c.model_copy(update={"source": s}) for c, s in zip(self.cameras, sources)] or self.cameras
        elif len(sources) > 1:
            cameras = [self.camera.model_copy(update={"id": f"cam-{n}", "lane": n, "source": s})
                       for n, s in enumerate(sources, start=1)]
        else:
            cameras = [self.camera.model_copy(update={"source": sources[0]}) if sources else self.camera]
        missing = [c.id for c in cameras if not c.source]
        if missing:
            raise ValueError(f"no source for camera {', '.join(missing)}: give --source, or `source` in its "
                             f"[[cameras]] entry")
        return cameras


def load_config(path: Path | None = None, document: dict | None = None) -> EdgeConfig:
    """Defaults, overlaid by the gateway's `document` if given, else by the TOML file at `path` (if any); overlaid
    by env."""
    values = document if document is not None else tomllib.loads(Path(path).read_text(encoding="utf-8")) if path \
        else {}
    # BaseSettings gives init values priority over env; we want env to win, so merge env last.
    from_env = EdgeConfig().model_dump(exclude_defaults=True)
    return EdgeConfig(**_deep_merge(values, from_env))


def _deep_merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
