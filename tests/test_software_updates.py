"""FaceGate releases over the air (issue 29): a real gate under the launcher installs a release beside the one it
runs, switches to it and starts it on trial; killed in the middle of the update, or of the switch, it comes back and
finishes it; a rollout stopped by hand sends it back to the release it was provisioned with; a release that does not
come up healthy is switched back by itself, the device on the release before."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gate_process import Device, next_verdict, scene
from network_camera import NetworkCamera
from stack import Stack, wait_for
from update_folders import make_release, publish_release

pytestmark = pytest.mark.backends("sqlite")  # the device is the subject; rollouts run on both in test_pack_updates


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("releases"), new_db("releases"), https=True)
    s.add_device("gate-r1", "site-a")
    s.add_device("gate-r2", "site-b")  # never started: a rollout's second stage waits for it
    yield s
    s.close()


def rollout(stack: Stack, rollout_id: int) -> dict:
    return next(r for r in stack.get("/api/rollouts", role="auditor").json() if r["id"] == rollout_id)


def updates_said(stack: Stack, device: str) -> list[dict]:
    """The device's `update` events, oldest first."""
    return sorted(stack.events(device=device, kind="update"), key=lambda e: e["seq"])


def newest_heartbeat(stack: Stack, device: str) -> dict:
    return stack.get("/api/events", device=device, kind="heartbeat", limit=1).json()["events"][0]


def test_a_release_is_installed_beside_switched_to_on_trial_sent_back_and_switched_back_when_unhealthy(stack, tmp_path):
    for version, broken in (("0.2.0", False), ("0.3.0", True)):
        done = publish_release(stack, make_release(tmp_path / version, version, broken))
        assert done.returncode == 0, done.stderr
        assert f"FaceGate {version} published as release" in done.stdout
    assert [r["release"] for r in stack.get("/api/releases").json()] == ["0.3.0", "0.2.0"]
    refused = publish_release(stack, tmp_path / "0.2.0")
    assert refused.returncode != 0 and "FaceGate 0.2.0 is published already" in refused.stderr

    home = tmp_path / "home"
    with NetworkCamera(scene(True), fps=5.0) as camera:
        device = Device(stack, "gate-r1", tmp_path / "gate-r1", camera.url, home=home)
        try:
            wait_for(lambda: next(iter(device.verdicts), None), 60, "a first verdict")
            provisioned = wait_for(lambda: stack.events(device="gate-r1", kind="heartbeat"), 30, "a heartbeat")
            assert provisioned[0]["software"] == "0.1.0"

            # Release 0.2.0 to this gate first, then to gate-r2. The device is killed while it fetches and installs
            # it: the launcher starts it again (on the release it ran), it prepares the update again and switches.
            started = stack.post("/api/rollouts", {"kind": "software", "version": 1,
                                                   "stages": [{"devices": ["gate-r1"]}, {"devices": ["gate-r2"]}]})
            assert started.status_code == 201, started.text
            assert started.json()["release"] == "0.2.0"
            wait_for(lambda: (home / "releases" / "1").exists(), 60, "the update under way")
            for pid in device.children():
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: rollout(stack, started.json()["id"])["stage"] == 2, 180, "stage 2 to go out")
            said = updates_said(stack, "gate-r1")[-1]
            assert (said["update_kind"], said["outcome"], said["version"], said["running"]) == (
                "software", "applied", 1, 1)
            assert os.readlink(home / "current") == str(Path("releases") / "1")
            assert (home / "releases" / "0" / "env").is_symlink()  # the provisioned release, kept to go back to
            assert newest_heartbeat(stack, "gate-r1")["software"] == "0.2.0"  # stage 2 went out on it
            granted = next_verdict(device, camera, "a verdict on 0.2.0")
            assert (granted["verdict"], granted["subject"]) == ("granted", "antonio-palocci")

            # Stopped by hand (gate-r2 never answers): gate-r1 goes back to the release it was provisioned with.
            stopped = stack.post(f"/api/rollouts/{started.json()['id']}/stop", {"reason": "gate-r2 is away"})
            assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
            wait_for(lambda: newest_heartbeat(stack, "gate-r1")["software"] == "0.1.0", 120, "a heartbeat on 0.1.0")
            said = updates_said(stack, "gate-r1")[-1]
            assert (said["outcome"], said["version"], said["running"]) == ("applied", 0, 0)
            assert os.readlink(home / "current") == str(Path("releases") / "0")

            # Release 0.2.0 again; this time the launcher and the device are both killed in the middle of the switch
            # (switch.json written, the new release not yet healthy). Started again, the launcher finishes it.
            again = stack.post("/api/rollouts", {"kind": "software", "version": 1,
                                                 "stages": [{"devices": ["gate-r1"]}], "rest": False}).json()
            wait_for(lambda: (home / "switch.json").exists(), 120, "the switch under way")
            for pid in [*device.children(), device.proc.pid]:
                os.kill(pid, signal.SIGKILL)
            device.proc.wait()
            device.start()
            wait_for(lambda: rollout(stack, again["id"])["state"] == "done", 180, "the rollout to finish")
            assert os.readlink(home / "current") == str(Path("releases") / "1")
            # Killed after its new release said `applied`, the launcher puts it on trial again when it starts.
            wait_for(lambda: not (home / "switch.json").exists(), 60, "the launcher to end the trial")
            assert newest_heartbeat(stack, "gate-r1")["software"] == "0.2.0"

            # Release 0.3.0 exits as soon as it starts: the launcher switches back by itself to the release it
            # ran, which says why; the rollout stops.
            broken = stack.post("/api/rollouts", {"kind": "software", "version": 2,
                                                  "stages": [{"devices": ["gate-r1"]}], "rest": False}).json()
            wait_for(lambda: rollout(stack, broken["id"])["state"] == "stopped", 180, "the rollout to stop")
            said = next(e for e in reversed(updates_said(stack, "gate-r1")) if e["version"] == 2)
            assert said["outcome"] == "refused" and said["running"] == 1
            assert said["reason"].startswith("health check failed: it exited with status 1 before it was healthy")
            assert rollout(stack, broken["id"])["reason"].startswith("stage 1: gate-r1 refused it: health check")
            assert os.readlink(home / "current") == str(Path("releases") / "1")
            running = device.children()
            still = next_verdict(device, camera, "a verdict on 0.2.0 again")
            assert device.children() == running  # it stays where it is: not switched to 0.3.0 again
            assert (still["verdict"], still["subject"]) == ("granted", "antonio-palocci")
            assert newest_heartbeat(stack, "gate-r1")["software"] == "0.2.0"
        finally:
            device.stop()
