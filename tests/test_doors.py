"""Door outputs against stand-ins that speak the real protocols (tests/door_standins.py): a relay board and a
Numato USB GPIO module on pseudo-terminals (this kernel has no gpio-sim), and an HTTP door controller answering
Hikvision's ISAPI behind digest authentication. Then the lane workers: one pulse for two grants, retries, faults."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from door_standins import Controller, GpioModule, IsapiController, RelayBoard
from edge.gate.doors import DoorFault, open_output
from edge.settings import DoorSettings
from edge.gate.doors.serial_relay import relay_command
from stack import wait_for


@pytest.fixture
def board():
    b = RelayBoard()
    yield b
    b.close()


def test_the_relay_frames_are_the_boards_own():
    assert relay_command(1, True) == bytes.fromhex("A00101A2") and relay_command(2, False) == bytes.fromhex("A00200A2")


def test_a_pulse_switches_the_lanes_relay_on_then_off_after_the_pulse(board):
    door = open_output(DoorSettings(kind="serial", port=board.path, channel=2, pulse_ms=300))
    started = time.monotonic()
    door.pulse()
    wait_for(lambda: len(board.switched) == 2, 5, "the stand-in")
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
    wait_for(lambda: len(board.switched) == 2, 5, "the stand-in")
    door.close()


@pytest.fixture
def controller():
    c = Controller()
    yield c.url
    c.close()


def test_an_isapi_controller_opens_the_door_with_digest_authentication(controller):
    door = open_output(DoorSettings(kind="isapi", url=controller, username="admin", password="door-pass-1", door=2))
    door.pulse()
    assert IsapiController.commands == [(2, "open")]
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
    assert IsapiController.commands == []
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


@pytest.fixture
def gpio():
    module = GpioModule()
    yield module
    module.close()


def test_a_gpio_relay_pulses_its_line_and_reads_the_door_contact(gpio):
    door = open_output(DoorSettings(kind="gpio", line=f"numato:{gpio.path}:4", contact=f"numato:{gpio.path}:7",
                                    pulse_ms=300))
    started = time.monotonic()
    door.pulse()
    wait_for(lambda: gpio.pulses(4), 5, "the stand-in")
    [(on_at, off_at)] = gpio.pulses(4)
    assert on_at - started < 0.2 and 0.25 <= off_at - on_at <= 0.6
    assert door.door_state() == "closed"
    gpio.inputs[7] = True  # someone pushes the door open
    assert door.door_state() == "open"
    door.close()
    time.sleep(0.1)
    assert gpio.levels[4] is False  # a secure door stays locked once FaceGate stops


def test_a_safe_door_is_held_locked_while_facegate_runs_and_released_when_it_stops(gpio):
    door = open_output(DoorSettings(kind="gpio", line=f"numato:{gpio.path}:2", fail_mode="safe", pulse_ms=100))
    door.hold()
    wait_for(lambda: gpio.levels.get(2) is True, 5, "the stand-in")  # energised: locked
    door.pulse()
    wait_for(lambda: len(gpio.changes) == 3, 5, "the stand-in")
    assert [high for _, pin, high in gpio.changes if pin == 2] == [True, False, True]  # opened by dropping it
    door.close()
    wait_for(lambda: gpio.levels[2] is False, 5, "the stand-in")  # FaceGate gone: a fire exit opens


def test_an_active_low_relay_board_is_switched_by_pulling_the_line_low(gpio):
    door = open_output(DoorSettings(kind="gpio", line=f"numato:{gpio.path}:1", active_low=True, pulse_ms=50))
    door.hold()
    door.pulse()
    wait_for(lambda: len(gpio.changes) == 3, 5, "the stand-in")
    assert [high for _, pin, high in gpio.changes if pin == 1] == [True, False, True]
    door.close()


def decode_wiegand(bits: list[int]) -> int | None:
    """What a controller does with a frame: check both parities, then read the number."""
    data, half = bits[1:-1], (len(bits) - 2) // 2
    if (bits[0] + sum(data[:half])) % 2 != 0 or (sum(data[half:]) + bits[-1]) % 2 != 1:
        return None
    return int("".join(map(str, data)), 2)


@pytest.mark.parametrize("bits, card", [(26, (123 << 16) | 45678), (34, 3_000_000_123)])
def test_wiegand_sends_the_subjects_card_number_with_both_parities(gpio, tmp_path, bits, card):
    cards = tmp_path / "cards.csv"
    cards.write_text(f"subject,card_number\nann-lee,{card}\n")
    door = open_output(DoorSettings(kind="wiegand", data0=f"numato:{gpio.path}:0", data1=f"numato:{gpio.path}:1",
                                    wiegand_bits=bits, cards=cards))
    door.open("ann-lee")
    wait_for(lambda: len(gpio.changes) >= 2 * bits + 2, 5, "the stand-in")
    [frame] = gpio.wiegand_frames(0, 1)
    assert len(frame) == bits and decode_wiegand(frame) == card
    assert gpio.levels[0] and gpio.levels[1]  # both lines idle high again
    with pytest.raises(DoorFault, match="bob has none"):
        door.open("bob")
    door.close()


def test_the_isapi_controller_reports_its_door_contact_and_a_safe_door_opens_when_facegate_stops(controller):
    door = open_output(DoorSettings(kind="isapi", url=controller, username="admin", password="door-pass-1", door=2,
                                    fail_mode="safe"))
    door.hold()
    assert door.door_state() == "closed"
    IsapiController.contacts = [0, 1]
    assert door.door_state() == "open"
    door.close()
    assert IsapiController.commands == [(2, "close"), (2, "alwaysOpen")]


# The lane workers (edge/gate/doors/control.py) on the relay board.

from edge.gate.doors.control import DoorControl, OpenRequest  # noqa: E402


def control(doors: list[DoorSettings], retry: tuple[float, ...] = (0.05, 0.1)):
    reports = []
    c = DoorControl(doors, reports.append, retry_delays_s=retry)
    return c.start(), reports


def test_two_verdicts_for_one_lane_at_once_give_one_pulse_and_the_operator_is_told(board):
    doors, reports = control([DoorSettings(kind="serial", port=board.path, pulse_ms=300)])
    doors.request(1, OpenRequest("grant", subject="ann-lee", track=1))
    doors.request(1, OpenRequest("grant", subject="ann-lee", track=2))
    doors.request(1, OpenRequest("operator", command="c-1", operator="op", reason="child without a ticket"))
    wait_for(lambda: len(board.switched) == 3 and len(reports) == 2, 5, "the stand-in")
    time.sleep(0.3)
    assert [on for _, _, on in board.switched] == [False, True, False]  # locked at start, then one pulse
    assert [(r.outcome, r.request.cause) for r in reports] == [("opened", "grant"), ("opened", "operator")]
    assert reports[0].latency_ms < 200 and doors.status()[0]["opened"] == 1
    assert doors.request(2, OpenRequest("grant")) is False  # no door there
    doors.stop()


def test_an_unplugged_relay_is_retried_then_reported_and_the_lane_shows_a_fault(board, tmp_path):
    port = tmp_path / "ttyUSB0"
    doors, reports = control([DoorSettings(kind="serial", port=str(port), pulse_ms=50)])
    started = time.monotonic()
    doors.request(1, OpenRequest("grant", subject="ann-lee"))
    wait_for(lambda: reports, 5, "the stand-in")
    [failed] = reports
    assert failed.outcome == "failed" and failed.attempts == 3 and "ttyUSB0" in failed.error
    assert time.monotonic() - started >= 0.15  # it waited between attempts
    assert doors.status()[0]["state"] == "fault" and "ttyUSB0" in doors.status()[0]["error"]
    port.symlink_to(board.path)  # plugged back in
    doors.request(1, OpenRequest("grant", subject="ann-lee"))
    wait_for(lambda: len(reports) == 2, 5, "the stand-in")
    assert reports[1].outcome == "opened" and doors.status()[0]["state"] == "ok"
    doors.stop()


def test_a_controller_that_does_not_answer_is_a_fault_with_its_reason():
    doors, reports = control([DoorSettings(kind="isapi", url="http://127.0.0.1:9", timeout_s=0.5)], retry=(0.05,))
    doors.request(1, OpenRequest("operator", command="c-2", operator="op", reason="late bus"))
    wait_for(lambda: reports, 5, "the stand-in")
    assert reports[0].outcome == "failed" and reports[0].request.command == "c-2"
    assert "127.0.0.1:9" in doors.status()[0]["error"]
    doors.stop()


def test_a_door_configured_twice_is_refused_with_the_lane(tmp_path):
    from edge.settings import load_config

    config = tmp_path / "gate.toml"
    config.write_text('[[doors]]\nlane = 2\nkind = "serial"\nport = "/dev/ttyUSB0"\n\n'
                      '[[doors]]\nlane = 2\nkind = "webhook"\nurl = "http://10.0.0.5/open"\n')
    with pytest.raises(ValueError, match="lane 2 is configured more than once"):
        load_config(config)
