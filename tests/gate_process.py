"""A real gate for the fleet's tests: `facegate edge run --bundle` on a network camera showing one LFW face or an
empty view, its verdict lines collected as they come (test_device_config, test_pack_updates)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from conftest import DATA, YUNET_DIR
from edge.eval.synthetic import background, paste, portrait
from network_camera import NetworkCamera
from stack import REPO, Stack, wait_for

LFW = DATA / "faces" / "lfw-devtest" / "images"
ENROLLED = LFW / "Antonio_Palocci" / "Antonio_Palocci_0003.jpg"
SEEN = LFW / "Antonio_Palocci" / "Antonio_Palocci_0008.jpg"
WIDTH, HEIGHT = 640, 360



class Device:
    """`facegate edge run --bundle` on a network camera, its verdict lines collected as they come."""

    def __init__(self, stack: Stack, device: str, folder: Path, camera_url: str, models_dir: Path | None = None,
                 home: Path | None = None):
        """`home`: run it under the launcher (`facegate edge launch --home`), which switches releases."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gallery").mkdir(exist_ok=True)
        (folder / "gallery" / "antonio-palocci.jpg").write_bytes(ENROLLED.read_bytes())
        self.local = {"models": {"search_paths": [str(YUNET_DIR)], "threads": 1,
                                 **({"dir": str(models_dir)} if models_dir else {})},
                      "camera": {"id": "cam-1", "source": camera_url, "fps": 5.0, "open_timeout_s": 2.0},
                      "liveness": {"enabled": False}, "quality": {"min_eye_distance_px": 9, "min_sharpness": 5},
                      # The same person back within a second is a new pass, so each test step gets its verdict.
                      "policy": {"reverify_interval_s": 1.0, "repeat_window_s": 1.0},
                      "events": {"outbox": str(folder / "outbox.db"), "gallery": str(folder / "gallery.enc"),
                                 "heartbeat_interval_s": 2.0}}
        toml = folder / "local.toml"
        toml.write_text(to_toml(self.local))
        self.command = [sys.executable, "-m", "facegate", "edge", "run", "--bundle", str(stack.devices[device]),
                        "--config", str(toml), "--gallery", str(folder / "gallery")]
        if home:
            self.command[4:4] = ["launch", "--home", str(home), "--health-timeout", "60", "--", "edge"]
        self.log = folder / "edge.log"
        self.verdicts: list[dict] = []
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log.open("a"),
                                     text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.verdicts.append(json.loads(line))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def children(self) -> list[int]:
        """The processes it started (under the launcher: the release running)."""
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]


def to_toml(document: dict) -> str:
    lines = []
    for section, values in document.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def scene(face: bool) -> list[np.ndarray]:
    frame = background(WIDTH, HEIGHT)
    if face:
        paste(frame, portrait(SEEN, 300), (200, 20))
    return [frame]


def next_verdict(device: Device, camera: NetworkCamera, what: str) -> dict:
    """The person steps out of view for 2 s (their track is lost after 1 s, and a second later they are a new
    pass) and back: the verdict on them."""
    camera.show(scene(False))
    sent = camera.sent
    wait_for(lambda: camera.sent >= sent + 2 * camera.fps, 10, "two seconds of an empty view")
    seen = len(device.verdicts)  # not what a node stopping for a restart said of the tracks it had open
    camera.show(scene(True))
    return wait_for(lambda: next((v for v in device.verdicts[seen:] if v["camera"] == "cam-1"), None), 30, what)


