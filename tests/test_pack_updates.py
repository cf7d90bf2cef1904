"""Model packs over the air (issue 29): a pack published with its self-test, fetched by devices over HTTPS with a
request each signs, rolled out stage by stage and stopped by itself when a stage goes wrong -- the devices that took
it sent back; a real gate that self-tests a pack, switches to it, and switches back by itself when its node does not
run on it; forged, replayed and downgrading commands refused."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edge.link.events import DeviceEvents
from edge.link.outbox import Outbox
from edge.updates.download import Downloader, DownloadError
from edge.updates.commands import Updates
from edge.updates.packs import PackInstaller
from gate_process import Device, next_verdict, scene
from models.manifest import sha256_of
from models.quality import QualitySettings
from models.settings import ModelSettings
from network_camera import NetworkCamera
from update_folders import make_pack, publish
from stack import DeviceClient, Stack, gateway_client, wait_for
from gateway.services.updates.rollouts import health
from gateway.storage import Device as Registered, DeviceUpdate
from wire import DeviceKey, cmd_topic, event_topic
from wire.bundle import DeviceBundle, load_bundle
from wire.commands import UPDATE, sign_command
from wire.events import HeartbeatEvent, UpdateEvent
from wire.ids import uuid7
from wire.signing import public_key_from_text, sign_event
from wire.updates import UpdateCommand, UpdateFile, device_request_signature, open_update


# -- the device's checks, without a network ------------------------------------------------------------------------


def test_the_device_refuses_forged_foreign_replayed_and_downgrading_updates_saying_why(tmp_path):
    gateway = DeviceKey.generate()
    bundle = DeviceBundle(site="site-a", device="gate-x", username="gate-x", password="x",
                          key=DeviceKey.generate().to_text(), gallery_key=base64.b64encode(bytes(32)).decode(),
                          gateway_key=gateway.public_text)
    outbox = Outbox(tmp_path / "outbox.db")
    packs = PackInstaller(bundle, ModelSettings(dir=tmp_path / "models"), QualitySettings())
    updates = Updates(bundle, tmp_path / "updates.json", {"pack": packs})
    updates.events = DeviceEvents("site-a", "gate-x", bundle.device_key(), outbox, "buffalo_s")
    packs.installed.restore({"version": 3, "previous": 2})  # runs version 3 of its pack

    def command(sequence: int, version: int, *, key=gateway, device="gate-x", name="buffalo_s",
                rollback=False) -> bytes:
        return sign_command(UpdateCommand(device=device, sequence=sequence, name=name, version=version,
                                          rollback=rollback, issued_at=datetime.now(timezone.utc), by="admin"), key)

    updates.handle(command(5, 3))  # what it runs already: applied, nothing to do
    updates.handle(command(5, 3))  # the retained copy, come again: nothing said
    updates.handle(command(6, 4, key=DeviceKey.generate()))  # forged
    updates.handle(command(7, 4, device="gate-y"))  # another device's
    updates.handle(command(4, 4))  # replayed: an older command
    updates.handle(command(8, 2))  # older than what runs, not a rollback
    updates.handle(command(9, 4, name="yunet_sface"))  # another pack
    updates.handle(command(10, 3, rollback=True))  # a rollback to what runs: applied at once
    software = sign_command(UpdateCommand(device="gate-x", sequence=11, kind="software", name="facegate", version=2,
                                          release="0.2.0", issued_at=datetime.now(timezone.utc), by="admin"), gateway)
    updates.handle(software)  # this device was not started by the launcher
    said = [json.loads(p.payload)["body"] for p in outbox.pending(limit=100)]
    assert [(b["sequence"], b["outcome"]) for b in said] == [(5, "applied"), (None, "refused"), (None, "refused"),
                                                             (4, "refused"), (8, "refused"), (9, "refused"),
                                                             (10, "applied"), (11, "refused")]
    reasons = [b["reason"] for b in said]
    assert reasons[1].startswith("bad_signature") and reasons[2].startswith("other_device")
    assert reasons[3].startswith("replayed") and reasons[4].startswith("downgrade")
    assert "this device runs buffalo_s" in reasons[5]
    assert "does not take software updates" in reasons[7]
    assert all(b["running"] == 3 for b in said[:7]) and not updates.ready.is_set()
    # The last sequence taken survives a restart: the replay stays a replay.
    assert Updates(bundle, tmp_path / "updates.json", {}).sequence == 11


def test_a_node_is_judged_on_its_rate_only_once_it_has_run_a_few_seconds():
    """A node's first heartbeats cover a window cut short by its start: they neither stop a rollout nor set the
    rate it is measured against."""
    device = Registered("gate-x", "site-a", "gate", "gate-x", "key", "active", "t", 0, True, None, None, None,
                        "buffalo_s", "k", None)
    command = DeviceUpdate("gate-x", 2, "pack", "buffalo_s", 1, False, 1, 0, 5.0, b"", "t", "t", "applied", None,
                           0.99, "t")

    def on(**beat) -> tuple[bool | None, str]:
        return health(None, replace(device, last_heartbeat={"pack_version": 1, **beat}), command)

    assert on(fps=1.1, uptime_s=0.9) == (None, "")  # just restarted: not yet
    assert on(fps=5.2, uptime_s=6.0) == (True, "")
    assert on(fps=1.1, uptime_s=6.0) == (False, "1.1 fps on the new pack, 5.0 before")
    assert on(fps=1.1, uptime_s=0.9, camera_error="lost")[0] is False  # a camera in error says so at once


# -- the gateway: publishing, serving, rolling out -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("packs"), new_db("packs"), https=True)
    for device, site in (("gate-s1", "site-a"), ("gate-s2", "site-b"), ("gate-s3", "site-b"), ("gate-s4", "site-a")):
        s.add_device(device, site)
    yield s
    s.close()


class PackFolders(dict):
    """Pack folders made as they are first asked for ("good", "fixed", "perturbed": see `make_pack`)."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> Path:
        self[name] = make_pack(self.root / name, fixed_input=256 if name == "fixed" else None,
                               perturbed=name == "perturbed")
        return self[name]


@pytest.fixture(scope="module")
def packs(tmp_path_factory) -> PackFolders:
    return PackFolders(tmp_path_factory.mktemp("pack-folders"))


def published_as(stack: Stack, folder: Path) -> int:
    """`facegate packs publish FOLDER`: the version it made."""
    done = publish(stack, folder)
    assert done.returncode == 0, done.stderr
    assert "published: 4 files, 2 self-test photos" in done.stdout
    return int(done.stdout.split(" version ")[1].split()[0])


@pytest.fixture(scope="module")
def published(stack, packs) -> int:
    """The good pack, published: its version (1)."""
    return published_as(stack, packs["good"])


class SimDevice:
    """A device reduced to its answers: reads its `cmd/update` and says what it made of it, and sends heartbeats."""

    def __init__(self, stack: Stack, device: str):
        self.client = DeviceClient(stack, device)
        self.bundle = self.client.bundle
        self.seq = 0
        self.client.client.subscribe(cmd_topic(self.bundle.site, device, UPDATE), qos=1)

    def commands(self) -> list[UpdateCommand]:
        return [open_update(m.payload, self.bundle.device, _key(self.bundle)) for m in self.client.received]

    def latest(self) -> UpdateCommand | None:
        commands = self.commands()
        return commands[-1] if commands else None

    def send(self, cls, **fields) -> None:
        self.seq += 1
        event = cls(id=str(uuid7()),
                    site=self.bundle.site, device=self.bundle.device, seq=self.seq,
                    captured_at=datetime.now(timezone.utc), model_pack="buffalo_s", **fields)
        self.client.publish(sign_event(event, self.client.key), event_topic(self.bundle.site, self.bundle.device,
                                                                           event.kind))

    def answer(self, outcome: str, running: int, reason: str = "", self_test: float | None = 0.99) -> UpdateCommand:
        command = self.latest()
        self.send(UpdateEvent, name=command.name, sequence=command.sequence, version=command.version,
                  outcome=outcome, running=running, rollout=command.rollout, self_test=self_test, reason=reason)
        return command

    def beat(self, pack_version: int, fps: float = 5.0, camera_error: str | None = None,
             uptime_s: float = 60.0) -> None:
        self.send(HeartbeatEvent, fps=fps, stage_ms={}, frames=100, frames_dropped=0, outbox_depth=0,
                  outbox_refused=0, gallery_version=None, gallery_size=0, liveness_enabled=False, uptime_s=uptime_s,
                  camera_error=camera_error, pack_version=pack_version)

    def close(self) -> None:
        self.client.close()


def _key(bundle: DeviceBundle):
    return public_key_from_text(bundle.gateway_key)


def rollout(stack: Stack, rollout_id: int) -> dict:
    return next(r for r in stack.get("/api/rollouts", role="auditor").json() if r["id"] == rollout_id)


def test_a_pack_is_published_checked_and_served_to_signed_devices_only(stack, packs, published):
    listed = stack.get("/api/packs", role="auditor").json()
    assert [(p["name"], p["version"], p["references"]) for p in listed] == [("buffalo_s", published, 2)]
    detector = next(f for f in listed[0]["files"] if f["name"] == "scrfd_500m_bnkps.onnx")
    assert detector["sha256"] == sha256_of(packs["good"] / "scrfd_500m_bnkps.onnx")
    kept = Path(stack.root / "updates" / "packs" / "buffalo_s" / "1")
    assert (kept.stat().st_mode & 0o777) == 0o700 and all((p.stat().st_mode & 0o777) == 0o600 for p in kept.iterdir())

    # A folder whose file is not the one its manifest pins is refused, naming the file.
    altered = packs["good"].parent / "altered"
    shutil.copytree(packs["good"], altered)
    with open(altered / "w600k_mbf.onnx", "ab") as f:
        f.write(b"\0")
    refused = publish(stack, altered)
    assert refused.returncode != 0 and "w600k_mbf.onnx does not match its manifest" in refused.stderr

    # Over HTTPS, to a device's signed request only; ranges served, so a cut download goes on.
    path = "/api/updates/packs/buffalo_s/1/scrfd_500m_bnkps.onnx"
    url = f"{stack.gateway.base_url}{path}"
    bundle = load_bundle(stack.devices["gate-s1"])
    signed = {"Authorization": device_request_signature(bundle.device_key(), "gate-s1", "GET", path)}
    https = stack.gateway.http  # checks the gateway's certificate against the FaceGate CA
    assert https.get(url).status_code == 401
    forged = device_request_signature(DeviceKey.generate(), "gate-s1", "GET", path)
    assert https.get(url, headers={"Authorization": forged}).status_code == 401
    other_path = device_request_signature(bundle.device_key(), "gate-s1", "GET", path.replace("/1/", "/2/"))
    assert https.get(url, headers={"Authorization": other_path}).status_code == 401
    whole = https.get(url, headers=signed)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == detector["sha256"]
    tail = https.get(url, headers={**signed, "Range": "bytes=1000-"})
    assert tail.status_code == 206 and tail.content == whole.content[1000:]
    assert stack.get(path).status_code == 401  # a user's login is not a device's signature
    assert https.get(url.replace("scrfd_500m_bnkps.onnx", "manifest.toml"),
                     headers={"Authorization": device_request_signature(bundle.device_key(), "gate-s1", "GET",
                                                                        path.replace("scrfd_500m_bnkps.onnx",
                                                                                     "manifest.toml"))}
                     ).status_code == 404  # only the files the pack's record names


@pytest.mark.backends("sqlite")  # the device's downloader is the subject
def test_a_cut_download_goes_on_where_it_stopped_and_an_altered_one_is_refused(stack, packs, published, tmp_path,
                                                                                caplog):
    bundle = load_bundle(stack.devices["gate-s1"])
    pack = next(p for p in stack.get("/api/packs").json() if p["version"] == 1)
    file = UpdateFile(**next(f for f in pack["files"] if f["name"] == "w600k_mbf.onnx"))
    url = f"{stack.gateway.base_url}/api/updates/packs/buffalo_s/1"
    folder = tmp_path / "fetched"
    folder.mkdir()
    whole = (packs["good"] / "w600k_mbf.onnx").read_bytes()
    (folder / "w600k_mbf.onnx.partial").write_bytes(whole[:5_000_000])  # the network went away here
    with caplog.at_level("INFO", logger="edge.updates.download"):
        Downloader(bundle).fetch_all(url, [file], folder)
    assert sha256_of(folder / "w600k_mbf.onnx") == file.sha256
    assert "resumed at byte 5000000" in caplog.text
    assert not (folder / "w600k_mbf.onnx.partial").exists()

    # A partial file that is not this file's beginning: the whole does not match the signed hash, and is dropped.
    (folder / "w600k_mbf.onnx").unlink()
    (folder / "w600k_mbf.onnx.partial").write_bytes(b"x" * 5_000_000)
    with pytest.raises(DownloadError, match="does not match the signed"):
        Downloader(bundle).fetch_all(url, [file], folder)
    assert not (folder / "w600k_mbf.onnx.partial").exists()
    # Not enough disk for the files: nothing is fetched.
    huge = UpdateFile(name="w600k_mbf.onnx", sha256=file.sha256, size=shutil.disk_usage(folder).free)
    with pytest.raises(DownloadError, match="not enough free disk"):
        Downloader(bundle).fetch_all(url, [huge], folder)
    with pytest.raises(DownloadError, match="over HTTPS"):
        Downloader(bundle).fetch_all("http://gateway.example/api/updates/packs/buffalo_s/1", [file], folder)


def test_a_rollout_goes_stage_by_stage_and_stops_by_itself_sending_back_those_that_took_it(stack, published):
    sims = {d: SimDevice(stack, d) for d in ("gate-s1", "gate-s2", "gate-s3", "gate-s4")}
    try:
        for sim in sims.values():
            sim.beat(0)
        assert stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1, "stages": [{"share": 25}]},
                          role="auditor").status_code == 403
        bad = stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1, "stages": [{"devices": ["gate-zz"]}]})
        assert bad.status_code == 422 and "gate-zz" in bad.json()["detail"]
        started = stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1,
                                               "stages": [{"devices": ["gate-s1"]}, {"site": "site-b"}]})
        assert started.status_code == 201, started.text
        body = started.json()
        assert [[d["device"] for d in stage] for stage in body["stages"]] == [["gate-s1"], ["gate-s2", "gate-s3"],
                                                                             ["gate-s4"]]
        first = wait_for(sims["gate-s1"].latest, 10, "stage 1's command")
        assert (first.version, first.rollback, len(first.files), len(first.reference)) == (1, False, 4, 2)
        assert first.url == f"{stack.gateway.base_url}/api/updates/packs/buffalo_s/1"
        assert stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1}).status_code == 409  # one at a time

        # Stage 1 applied it, but has not said it runs well on it: stage 2 waits.
        sims["gate-s1"].answer("applied", 1)
        wait_for(lambda: rollout(stack, body["id"])["stages"][0][0]["outcome"] == "applied", 10, "its word")
        assert sims["gate-s2"].latest() is None and rollout(stack, body["id"])["stage"] == 1
        sims["gate-s1"].beat(1, fps=4.8)  # healthy on it: stage 2 goes out
        wait_for(lambda: sims["gate-s2"].latest() and sims["gate-s3"].latest(), 10, "stage 2's commands")
        assert rollout(stack, body["id"])["stage"] == 2 and sims["gate-s4"].latest() is None

        # Stage 2: one applies it, the other's self-test fails. The rollout stops; those that took it go back.
        sims["gate-s2"].answer("applied", 1)
        sims["gate-s3"].answer("refused", 0, "self-test failed: a reference photo embeds at cosine 0.412",
                               self_test=0.412)
        wait_for(lambda: rollout(stack, body["id"])["state"] == "stopped", 10, "the rollout to stop")
        stopped = rollout(stack, body["id"])
        assert stopped["reason"].startswith("stage 2: gate-s3 refused it: self-test failed")
        for device in ("gate-s1", "gate-s2"):
            back = wait_for(lambda: (c := sims[device].latest()) and c.rollback and c, 10, f"{device}'s rollback")
            assert (back.version, back.files) == (0, [])  # back to the pack it came with
        assert not sims["gate-s3"].latest().rollback  # it never ran the pack
        assert sims["gate-s4"].latest() is None  # the last stage never saw it
        assert [d["rolled_back"] for s in stopped["stages"] for d in s] == [True, True, False, False]
        assert stack.post(f"/api/rollouts/{body['id']}/stop", {"reason": "again"}).status_code == 409

        # Health: a device that applies it and then runs at a fraction of its frame rate stops a rollout too.
        for device in ("gate-s1", "gate-s2"):
            sims[device].answer("applied", 0, self_test=None)
            sims[device].beat(0, fps=5.0)
        again = stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1,
                                             "stages": [{"devices": ["gate-s4"]}], "rest": False}).json()
        wait_for(lambda: (c := sims["gate-s4"].latest()) and c.rollout == again["id"], 10, "the command")
        sims["gate-s4"].answer("applied", 1)
        sims["gate-s4"].beat(1, fps=1.0)
        wait_for(lambda: rollout(stack, again["id"])["state"] == "stopped", 10, "the rollout to stop")
        assert "1.0 fps on the new pack, 5.0 before" in rollout(stack, again["id"])["reason"]

        # Stopped by hand: the same, audited with the admin's reason.
        third = stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1,
                                             "stages": [{"devices": ["gate-s3"]}], "rest": False}).json()
        manual = stack.post(f"/api/rollouts/{third['id']}/stop", {"reason": "the site asked to wait"})
        assert manual.status_code == 200 and manual.json()["state"] == "stopped"
        entries = stack.get("/api/audit", role="auditor", action="rollout.stopped").json()
        assert [e["detail"]["reason"] for e in entries if e["detail"]["rollout"] == third["id"]] == [
            "the site asked to wait"]
    finally:
        for sim in sims.values():
            sim.close()


# -- a real gate ---------------------------------------------------------------------------------------------------


def update_events(stack: Stack, device: str) -> list[dict]:
    """The device's `update` events, oldest first."""
    return sorted(stack.events(device=device, kind="update"), key=lambda e: e["seq"])


@pytest.mark.backends("sqlite")  # the device is the subject; the rollouts' storage runs on both above
def test_a_real_gate_self_tests_switches_and_switches_back_by_itself(stack, packs, published, tmp_path):
    stack.add_device("gate-p1", "site-c")
    fixed, perturbed = published_as(stack, packs["fixed"]), published_as(stack, packs["perturbed"])
    # First: a new broker login makes the broker reload, dropping connections.
    as_gateway = gateway_client(stack, "test-updates")
    with NetworkCamera(scene(True), fps=5.0) as camera:
        device = Device(stack, "gate-p1", tmp_path / "gate-p1", camera.url, models_dir=tmp_path / "models")
        try:
            wait_for(lambda: next(iter(device.verdicts), None), 60, "a first verdict")

            # The good pack: fetched over HTTPS, self-tested, switched to; the node runs on it.
            good = stack.post("/api/rollouts", {"name": "buffalo_s", "version": 1,
                                                "stages": [{"devices": ["gate-p1"]}], "rest": False})
            assert good.status_code == 201, good.text
            wait_for(lambda: rollout(stack, good.json()["id"])["state"] == "done", 120, "the rollout to finish")
            said = update_events(stack, "gate-p1")[-1]
            assert (said["outcome"], said["version"], said["running"]) == ("applied", 1, 1)
            assert said["self_test"] > 0.99
            installed = tmp_path / "models" / "packs" / "buffalo_s"
            assert json.loads((installed / "state.json").read_text()) == {"version": 1, "previous": 0}
            granted = next_verdict(device, camera, "a verdict on pack version 1")
            assert (granted["verdict"], granted["subject"]) == ("granted", "antonio-palocci")

            # A pack whose self-test fails (its templates would not match the gallery's): never switched to.
            bad = stack.post("/api/rollouts", {"name": "buffalo_s", "version": perturbed,
                                               "stages": [{"devices": ["gate-p1"]}], "rest": False}).json()
            wait_for(lambda: rollout(stack, bad["id"])["state"] == "stopped", 120, "the rollout to stop")
            said = next(e for e in reversed(update_events(stack, "gate-p1")) if e["version"] == perturbed)
            assert said["outcome"] == "refused" and said["reason"].startswith("self-test failed")
            assert said["self_test"] < 0.95 and said["running"] == 1

            # A pack that passes its self-test but on which the node does not run (its detector takes square
            # pictures only): switched to, failed on the camera's frames, switched back by itself.
            broken = stack.post("/api/rollouts", {"name": "buffalo_s", "version": fixed,
                                                  "stages": [{"devices": ["gate-p1"]}], "rest": False}).json()
            wait_for(lambda: rollout(stack, broken["id"])["state"] == "stopped", 120, "the rollout to stop")
            said = next(e for e in reversed(update_events(stack, "gate-p1")) if e["version"] == fixed
                        and e["outcome"] == "refused")
            assert said["self_test"] > 0.99 and said["running"] == 1
            assert "the node stopped on it" in said["reason"] and "dimensions" in said["reason"]
            assert json.loads((installed / "state.json").read_text())["version"] == 1
            still = next_verdict(device, camera, "a verdict on pack version 1 again")
            assert (still["verdict"], still["subject"]) == ("granted", "antonio-palocci")
            newest = wait_for(lambda: stack.events(device="gate-p1", kind="heartbeat"), 30, "a heartbeat")[0]
            assert newest["pack_version"] == 1

            # Forged, replayed and downgrading commands, straight from the broker: refused, saying why.
            gateway = stack.secrets.signing_key
            # (the gateway's own newest command to it, from its store: a second login as the device would take over
            # the device's connection)
            last = open_update(stack.store.updates.history("gate-p1")[0].payload, "gate-p1",
                               _key(load_bundle(stack.devices["gate-p1"])))
            forged = sign_command(last.model_copy(update={"sequence": 900, "version": 99}), DeviceKey.generate())
            downgrade = sign_command(last.model_copy(update={"sequence": 901, "version": 0, "files": []}), gateway)
            replay = sign_command(last.model_copy(update={"sequence": 1, "version": 1}), gateway)
            before = len(update_events(stack, "gate-p1"))
            for payload in (forged, downgrade, replay):
                as_gateway.publish(cmd_topic("site-c", "gate-p1", UPDATE), payload, qos=1).wait_for_publish(5)
            said = wait_for(lambda: (lambda e: e[before:] if len(e) >= before + 3 else None)(
                update_events(stack, "gate-p1")), 30, "three refusals")
            assert [e["outcome"] for e in said] == ["refused"] * 3
            reasons = [e["reason"] for e in said]
            assert reasons[0].startswith("bad_signature") and reasons[1].startswith("downgrade")
            assert reasons[2].startswith("replayed")
        finally:
            device.stop()
            as_gateway.disconnect()
            as_gateway.loop_stop()
