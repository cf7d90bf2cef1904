"""Running a fleet from one place (issue 29): a configuration change to every device, against doing it by hand.

    .venv/bin/python benchmarks/fleet_update.py [--devices 100] [--real 2] [--runs 3]

On this machine: a Mosquitto and one `facegate gateway run` (SQLite) with `--devices` devices provisioned.
`--real` of them are real `facegate edge run --bundle` processes, each watching its own network camera (the
Motion-JPEG stand-in of the tests, a face in view). The rest are light simulators in this process that do with a
configuration what a device's link does -- verify the gateway's signature, open the seal, check the schema,
build the settings, apply them, report a signed `config` event through a real outbox and publisher
(edge/link/) -- without a camera loop.

- From the centre: a new version for every device (a threshold changed), timed from the first request until
  95 % and 100 % of the devices have said `applied` (their `config` events stored at the gateway). `--runs`
  rounds: the first half with a PUT a device (a script's way), the rest in one request for all
  (POST /api/fleet/config: the admin page's "Change a setting on many devices").
- By hand, the baseline, in the same run: for each real device, its new TOML file written and its process
  restarted, timed from the copy to the restarted node's first verdict. A technician doing the whole fleet
  takes that per device, one after another -- without counting the walk from gate to gate.

- A model pack in three stages (10 %, 30 %, the rest), the second made to fail its health check (one simulated
  device there reports a fifth of its frame rate on the new pack): timed from the start until stage 1 runs it,
  until the rollout stops by itself, and until every device that took it is back on the pack it ran before. The
  real gates fetch the pack over HTTPS, self-test it and restart on it; the simulators verify the command, fetch
  and hash-check its files with the real downloader and report, without a self-test or a camera loop. By hand, in
  the same run: the pack's files copied onto a real gate and the gate restarted, to its first verdict.

- A FaceGate release in three stages (10 %, 30 %, the rest), the real gates run by the launcher, one of them killed
  (SIGKILL) in the middle of installing it: timed from the start until 95 % and 100 % of the devices run it (their
  `update` events stored). The real gates install it into a new environment and restart on it on trial; the
  simulators verify, fetch and hash-check it and report. By hand, in the same run: the same install on a real gate
  (a new environment, pip in hash-checking mode) and the gate restarted, to its first verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import DATA, YUNET_DIR  # noqa: E402
from edge.eval.synthetic import background, paste, portrait  # noqa: E402
from edge.link.event_link import EventLink  # noqa: E402
from edge.updates.download import Downloader  # noqa: E402
from edge.settings import EdgeConfig, load_config  # noqa: E402
from network_camera import NetworkCamera  # noqa: E402
from stack import Stack, sql, wait_for  # noqa: E402
from update_folders import make_pack, make_release, publish, publish_release  # noqa: E402
from wire.bundle import load_bundle  # noqa: E402
from wire.events import UpdateEvent  # noqa: E402
from wire.signing import public_key_from_text  # noqa: E402
from wire.updates import open_update  # noqa: E402

FACE = DATA / "faces" / "lfw-devtest" / "images" / "Antonio_Palocci"


class Simulator:
    """Devices without a camera: each a real link (outbox, publisher, configuration sync), every configuration
    applied as soon as it is checked; every pack update verified, its files fetched and hash-checked with the real
    downloader, and reported applied, with a heartbeat on it (at a fifth of the frame rate for the `slow` ones)."""

    def __init__(self, stack: Stack, devices: list[str], folder: Path, slow: set[str] = frozenset()):
        self.links, self.folder, self.slow = [], folder, slow
        self.running: dict[str, int] = {}  # device -> the pack version it says it runs
        self.release: dict[str, str] = {}  # device -> the FaceGate release it says it runs
        self._updates: list = []
        for device in devices:
            config = EdgeConfig(events={"outbox": folder / device / "outbox.db",
                                        "gallery": folder / device / "gallery.enc"})
            link = EventLink.open(load_bundle(stack.devices[device]), config, "buffalo_s")
            link.on_update = lambda payload, link=link: self._updates.append((link, payload))
            self.links.append(link)
            self.running[device] = 0
            self.beat(link)
        self._pool = ThreadPoolExecutor(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._apply, daemon=True)
        self._thread.start()

    def beat(self, link: EventLink) -> None:
        device = link.gallery.bundle.device
        link.events.heartbeat(fps=1.0 if device in self.slow and self.running[device] else 5.0, stage_ms={},
                              frames=100, frames_dropped=0, gallery_version=None, gallery_size=0,
                              liveness_enabled=False, uptime_s=60.0, pack_version=self.running[device],
                              **({"software": self.release[device]} if device in self.release else {}))

    def _apply(self) -> None:
        while not self._stop.wait(0.01):
            for link in self.links:
                if link.configs.arrived.is_set() and (pending := link.configs.take()):
                    load_config(None, pending.document)  # what the node would run on
                    link.configs.applied(pending, "live")
            while self._updates:
                link, payload = self._updates.pop(0)
                self._pool.submit(self._update, link, payload)

    def _update(self, link: EventLink, payload: bytes) -> None:
        bundle = link.gallery.bundle
        command = open_update(payload, bundle.device, public_key_from_text(bundle.gateway_key))
        if command.kind == "software":
            Downloader(bundle).fetch_all(command.url, command.files, self.folder / bundle.device / "release")
            self.release[bundle.device] = command.release
        elif command.version != self.running[bundle.device]:  # else it runs it already: applied, as a device says
            if command.files:
                Downloader(bundle).fetch_all(command.url, command.files, self.folder / bundle.device / "pack")
            self.running[bundle.device] = command.version
        link.events.append(UpdateEvent, update_kind=command.kind, name=command.name, sequence=command.sequence,
                           version=command.version, outcome="applied", running=command.version,
                           rollout=command.rollout)
        self.beat(link)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown()
        for link in self.links:
            link.close(2.0)


class RealGate:
    """`facegate edge run --bundle` on a network camera with a face in view; its verdict lines counted."""

    def __init__(self, stack: Stack, device: str, folder: Path, camera_url: str):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gallery").mkdir(exist_ok=True)
        (folder / "gallery" / "antonio-palocci.jpg").write_bytes((FACE / "Antonio_Palocci_0003.jpg").read_bytes())
        self.local = {"models": {"search_paths": [str(YUNET_DIR)], "threads": 1, "dir": str(folder / "models")},
                      "camera": {"id": "cam-1", "source": camera_url, "fps": 5.0},
                      "liveness": {"enabled": False}, "quality": {"min_eye_distance_px": 9, "min_sharpness": 5},
                      "policy": {"reverify_interval_s": 1.0, "repeat_window_s": 1.0},
                      "events": {"outbox": str(folder / "outbox.db"), "gallery": str(folder / "gallery.enc"),
                                 "heartbeat_interval_s": 5.0}}
        self.folder = folder
        self.toml = folder / "local.toml"
        self.write(self.local)
        self.home = folder / "home"  # run by the launcher, which switches releases
        self.command = [sys.executable, "-m", "facegate", "edge", "launch", "--home", str(self.home), "--", "edge",
                        "run", "--bundle", str(stack.devices[device]), "--config", str(self.toml), "--gallery",
                        str(folder / "gallery")]
        self.log = (folder / "edge.log").open("a")
        self.verdicts = 0
        self.start()

    def write(self, document: dict) -> None:
        lines = []
        for section, values in document.items():
            lines += [f"[{section}]", *(f"{key} = {json.dumps(value)}" for key, value in values.items())]
        self.toml.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True)
        threading.Thread(target=self._count, args=(self.proc,), daemon=True).start()

    def _count(self, proc) -> None:
        for _ in proc.stdout:
            self.verdicts += 1

    def restarted(self, started: float) -> float:
        """Restart the device; seconds from `started` to its node's first verdict after."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        before = self.verdicts
        self.start()
        wait_for(lambda: self.verdicts > before, 120, "a verdict after the restart")
        return time.perf_counter() - started

    def by_hand(self, threshold: float) -> float:
        """Seconds from writing the new file to the restarted node's first verdict."""
        started = time.perf_counter()
        self.write({**self.local, "policy": {**self.local["policy"], "identify_threshold": threshold}})
        return self.restarted(started)

    def pack_by_hand(self, pack: Path) -> float:
        """Seconds from copying a pack's files onto the device to the restarted node's first verdict."""
        started = time.perf_counter()
        copy = self.folder / "by-hand-pack"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(pack, copy)
        return self.restarted(started)

    def release_by_hand(self, release: Path) -> float:
        """Seconds from installing a release on the device (a new environment, pip in hash-checking mode, as the
        device does) to the restarted node's first verdict."""
        started = time.perf_counter()
        env = self.folder / "by-hand-env"
        shutil.rmtree(env, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet",
                        "--no-index", "--find-links", str(release), "--no-deps", str(next(release.glob("*.whl")))],
                       check=True)
        return self.restarted(started)

    def children(self) -> list[int]:
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def release_rollout(stack: Stack, devices: int, killed: RealGate) -> dict[str, float]:
    """Release 1 in three stages (10 %, 30 %, the rest), `killed`'s release process killed while it installs it;
    timed from the start until 95 % and 100 % of the devices have applied it."""
    started = time.perf_counter()
    r = stack.post("/api/rollouts", {"kind": "software", "version": 1, "stages": [{"share": 10}, {"share": 30}]})
    assert r.status_code == 201, r.text
    rollout_id = r.json()["id"]
    wait_for(lambda: (killed.home / "releases" / "1").exists(), 120, "the install under way")
    for pid in killed.children():
        os.kill(pid, signal.SIGKILL)
    marks, need95 = {}, -(-95 * devices // 100)
    while "100" not in marks:
        [(applied,)] = sql(stack, "SELECT count(*) FROM device_updates WHERE rollout = ? AND outcome = 'applied'",
                           rollout_id)
        now = time.perf_counter() - started
        if applied >= need95 and "95" not in marks:
            marks["95"] = now
        if applied >= devices:
            marks["100"] = now
        assert now < 600, f"only {applied} of {devices} run the release after 600 s"
        time.sleep(0.1)  # a benchmark's poll; the tests wait on conditions
    return marks


def pack_rollout(stack: Stack, version: int, devices: int) -> dict[str, float]:
    """A rollout of pack `version` in three stages (10 %, 30 %, the rest), timed from its start: until stage 1 has
    applied it, until it stops by itself (stage 2's health), until every device that took it is back."""
    started = time.perf_counter()
    r = stack.post("/api/rollouts", {"name": "buffalo_s", "version": version, "stages": [{"share": 10}, {"share": 30}]})
    assert r.status_code == 201, r.text
    rollout_id, first = r.json()["id"], len(r.json()["stages"][0])
    marks = {}

    def state() -> dict:
        return next(x for x in stack.get("/api/rollouts").json() if x["id"] == rollout_id)

    while "back" not in marks:
        now, rollout = time.perf_counter() - started, state()
        if "stage 1" not in marks and rollout["stage"] >= 2:
            marks["stage 1"] = now
        if "stopped" not in marks and rollout["state"] != "running":
            assert rollout["state"] == "stopped", rollout
            marks["stopped"], marks["reason"] = now, rollout["reason"]
        if "stopped" in marks:
            [(waiting,)] = sql(stack, "SELECT count(*) FROM device_updates WHERE rollout = ? AND rollback = 1 "
                                      "AND (outcome IS NULL OR outcome <> 'applied')", rollout_id)
            [(sent_back,)] = sql(stack, "SELECT count(*) FROM device_updates WHERE rollout = ? AND rollback = 1",
                                 rollout_id)
            if sent_back and not waiting:
                marks["back"], marks["sent back"] = now, sent_back
        assert now < 600, f"the rollout is still at {rollout} after 600 s"
        time.sleep(0.1)  # a benchmark's poll; the tests wait on conditions
    marks["first stage"] = first
    return marks


def from_the_centre(stack: Stack, documents: dict[str, dict], version: int,
                    one_action: dict | None = None) -> dict[str, float]:
    """Each device's next version -- a PUT each, or `one_action` (POST /api/fleet/config) for all -- timed from
    the first request: until the last is answered, and until 95 % and 100 % of the devices have applied it."""
    started = time.perf_counter()
    if one_action is not None:
        r = stack.post("/api/fleet/config", {"devices": list(documents), "settings": one_action})
        assert r.status_code == 201 and len(r.json()["changed"]) == len(documents), r.text
    for device, document in documents.items() if one_action is None else ():
        r = stack.put(f"/api/devices/{device}/config", {"document": document})
        assert r.status_code == 201, r.text
    sent = time.perf_counter() - started
    marks, need95 = {}, -(-95 * len(documents) // 100)
    while len(marks) < 2:
        [(applied,)] = sql(stack, "SELECT count(*) FROM device_configs WHERE version = ? AND outcome = 'applied'",
                           version)
        now = time.perf_counter() - started
        if applied >= need95 and "95" not in marks:
            marks["95"] = now
        if applied >= len(documents):
            marks["100"] = now
        assert now < 300, f"only {applied} of {len(documents)} applied version {version} in 300 s"
        time.sleep(0.02)  # a benchmark's poll; the tests wait on conditions
    return {"sent": sent, **marks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--real", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="facegate-fleet-update-"))
    stack = Stack.create(root, https=True)
    names = [f"gate-{n:03d}" for n in range(1, args.devices + 1)]
    for name in names:
        stack.add_device(name, f"site-{(int(name[-3:]) - 1) // 20 + 1}")
    frame = background(640, 360)
    paste(frame, portrait(FACE / "Antonio_Palocci_0008.jpg", 300), (200, 20))
    cameras = [NetworkCamera([frame], fps=5.0).__enter__() for _ in range(args.real)]
    real = [RealGate(stack, name, root / name, camera.url) for name, camera in zip(names, cameras)]
    # One device of the second stage (10 % to 40 % of the fleet, by id) runs worse on the new pack.
    slow = {names[int(0.25 * args.devices)]}
    sims = Simulator(stack, names[args.real:], root / "sims", slow)
    pack = make_pack(root / "pack")
    done = publish(stack, pack)
    assert done.returncode == 0, done.stderr
    release = make_release(root / "release", "0.2.0")
    done = publish_release(stack, release)
    assert done.returncode == 0, done.stderr
    try:
        wait_for(lambda: all(d.online for d in stack.store.devices.all()), 120, "every device connected")
        wait_for(lambda: all(g.verdicts for g in real), 120, "every real gate deciding")
        rounds = []
        for run in range(1, args.runs + 1):
            threshold = 0.5 if run % 2 else 0.6
            documents = {name: {**gate.local, "policy": {**gate.local["policy"], "identify_threshold": threshold}}
                         for name, gate in zip(names, real)}
            documents.update({name: {"policy": {"identify_threshold": threshold}} for name in names[args.real:]})
            # The first rounds as a script would (a PUT each), the later ones as the admin page's "Change a
            # setting on many devices" does (one request).
            bulk = {"policy.identify_threshold": threshold} if run > (args.runs + 1) // 2 else None
            rounds.append({"how": "one action" if bulk else "a PUT a device",
                           **from_the_centre(stack, documents, run, bulk)})
        rollout = pack_rollout(stack, 1, args.devices)
        software = release_rollout(stack, args.devices, real[0])
        running = [g.home / "current" for g in real]
        by_hand = [gate.by_hand(0.55) for gate in real]
        pack_by_hand = [gate.pack_by_hand(pack) for gate in real]
        release_by_hand = [gate.release_by_hand(release) for gate in real]
    finally:
        sims.close()
        for gate in real:
            gate.stop()
        for camera in cameras:
            camera.__exit__(None, None, None)
        stack.close()

    per_device = statistics.mean(by_hand)
    print(f"\n{args.devices} devices ({args.real} real `facegate edge run`, {args.devices - args.real} simulated), "
          f"one gateway on SQLite, {os.cpu_count()} cores\n")
    print("| way | requests answered | 95 % applied | 100 % applied |")
    print("|---|---|---|---|")
    for n, r in enumerate(rounds, start=1):
        print(f"| from the centre, round {n}: {r['how']} | {r['sent']:.1f} s | {r['95']:.1f} s | {r['100']:.1f} s |")
    print(f"| by hand: a file copied and the device restarted, {per_device:.1f} s a device (measured on "
          f"{len(by_hand)}), one after another | - | {0.95 * args.devices * per_device:.0f} s | "
          f"{args.devices * per_device:.0f} s |")
    per_pack = statistics.mean(pack_by_hand)
    print(f"\nA model pack ({sum(f.stat().st_size for f in pack.glob('*.onnx')) / 1e6:.0f} MB) in three stages, "
          f"the second failing its health check ({sorted(slow)[0]}: a fifth of its frame rate on it)\n")
    print("| way | stage 1 runs it | stopped by itself | every device that took it back |")
    print("|---|---|---|---|")
    print(f"| from the centre: {rollout['first stage']} devices in stage 1, {rollout['sent back']} sent back | "
          f"{rollout['stage 1']:.1f} s | {rollout['stopped']:.1f} s | {rollout['back']:.1f} s |")
    print(f"| by hand: the files copied and the device restarted, {per_pack:.1f} s a device, one after another | "
          f"{rollout['first stage'] * per_pack:.0f} s | - | - |")
    print(f"\nwhy it stopped: {rollout['reason']}")
    per_release = statistics.mean(release_by_hand)
    print(f"\nFaceGate 0.2.0 in three stages, {real[0].folder.name} killed while installing it; the real gates run "
          f"{', '.join(os.readlink(r) for r in running)} after\n")
    print("| way | 95 % run it | 100 % run it |")
    print("|---|---|---|")
    print(f"| from the centre | {software['95']:.1f} s | {software['100']:.1f} s |")
    print(f"| by hand: installed and the device restarted, {per_release:.1f} s a device, one after another | "
          f"{0.95 * args.devices * per_release:.0f} s | {args.devices * per_release:.0f} s |")


if __name__ == "__main__":
    main()
