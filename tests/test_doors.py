"""Door outputs against stand-ins that speak the real protocols: a relay board on a pseudo-terminal, and an HTTP
door controller answering Hikvision's ISAPI remote door control behind digest authentication."""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge.doors import DoorFault, DoorSettings, open_output
from edge.doors.serial_relay import relay_command


class RelayBoard:
    """A USB relay board on a pty: reads the four-byte frames (checking each checksum) and keeps what each relay
    did, and when."""

    def __init__(self):
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        self.switched: list[tuple[float, int, bool]] = []  # (monotonic time, channel, on)
        self.bad_frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            buffer += os.read(self.master, 64)
            while len(buffer) >= 4:
                frame, buffer = buffer[:4], buffer[4:]
                if frame[0] != 0xA0 or frame[3] != sum(frame[:3]) & 0xFF or frame[2] not in (0, 1):
                    self.bad_frames += 1
                    continue
                self.switched.append((time.monotonic(), frame[1], frame[2] == 1))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def board():
    b = RelayBoard()
    yield b
    b.close()


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_relay_frames_are_the_boards_own():
    assert relay_command(1, True) == bytes.fromhex("A00101A2") and relay_command(2, False) == bytes.fromhex("A00200A2")


def test_a_pulse_switches_the_lanes_relay_on_then_off_after_the_pulse(board):
    door = open_output(DoorSettings(kind="serial", port=board.path, channel=2, pulse_ms=300))
    started = time.monotonic()
    door.pulse()
    wait_until(lambda: len(board.switched) == 2)
    (on_at, channel, on), (off_at, channel_2, off) = board.switched
    assert (channel, on, channel_2, off) == (2, True, 2, False) and board.bad_frames == 0
    assert on_at - started < 0.2 and 0.25 <= off_at - on_at <= 0.6  # unlocked for the pulse, then locked
    door.close()


def test_an_unplugged_board_is_a_door_fault_and_works_again_once_back(board, tmp_path):
    link = tmp_path / "ttyUSB0"
    door = open_output(DoorSettings(kind="serial", port=str(link), pulse_ms=50))
    with pytest.raises(DoorFault, match="ttyUSB0"):
        door.pulse()  # nothing at the port: unplugged
    link.symlink_to(board.path)  # plugged back in
    door.pulse()
    wait_until(lambda: len(board.switched) == 2)
    door.close()


class IsapiController(BaseHTTPRequestHandler):
    """A Hikvision access controller's remote door control, behind digest authentication (RFC 7616, MD5, auth)."""

    realm, user, password = "DS-K1T671", "admin", "door-pass-1"
    opened: list[int] = []
    nonce = secrets.token_hex(8)

    def log_message(self, *args) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self._authorised():
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        door = re.fullmatch(r"/ISAPI/AccessControl/RemoteControl/door/(\d+)", self.path)
        ok = door and body == b"<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>"
        if ok:
            type(self).opened.append(int(door[1]))
        answer = b"<ResponseStatus><statusCode>1</statusCode><statusString>OK</statusString></ResponseStatus>"
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731  (the protocol's own hash)
        ha1 = md5(f"{fields.get('username')}:{self.realm}:{self.password}")
        ha2 = md5(f"PUT:{fields.get('uri')}")
        expected = md5(f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("username") == self.user and fields.get("nonce") == self.nonce and \
            fields.get("response") == expected


@pytest.fixture
def controller():
    IsapiController.opened = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), IsapiController)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_isapi_controller_opens_the_door_with_digest_authentication(controller):
    door = open_output(DoorSettings(kind="isapi", url=controller, username="admin", password="door-pass-1", door=2))
    door.pulse()
    assert IsapiController.opened == [2]
    door.close()


def test_a_wrong_login_or_a_silent_controller_is_a_door_fault(controller):
    door = open_output(DoorSettings(kind="isapi", url=controller, username="admin", password="guessed"))
    with pytest.raises(DoorFault, match="401"):
        door.pulse()
    door.close()
    silent = open_output(DoorSettings(kind="isapi", url="http://127.0.0.1:9", username="admin", password="x",
                                      timeout_s=1))
    with pytest.raises(DoorFault, match="127.0.0.1:9"):
        silent.pulse()
    assert IsapiController.opened == []
    silent.close()


def test_a_webhook_gets_the_lane_and_the_pulse():
    received = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        door = open_output(DoorSettings(kind="webhook", url=f"http://127.0.0.1:{server.server_address[1]}/open",
                                        lane=3, pulse_ms=1200))
        door.pulse()
        assert received == [("/open", {"lane": 3, "door": 1, "action": "open", "pulse_ms": 1200})]
        door.close()
    finally:
        server.shutdown()
        server.server_close()
