"""Property-based fuzzing: the event contract and the HTTP API, in bounded time.

- Ingest: any bytes, any JSON, and signed events with any values in any field
  end admitted-and-storable or rejected with a reason: never an exception,
  never a recursion, never an admitted event the database refuses.
- API (Schemathesis, from the running gateway's OpenAPI schema): no request
  answers 500 or hangs.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.services.events.ingest import DeviceDirectory, Rejected, admit
from gateway.storage import Store
from stack import Stack, register_device, store_events
from wire import DeviceKey, event_topic, uuid7
from wire.events import EVENT_TYPES, utc_text
from wire.signing import canonical_json

# What ingest refuses an admitted event for, by name: an operator's door opening this gateway never commanded, or
# commanded of another device, lane or operator (gateway/services/devices/doors.py); an exam record of another
# device's session (foreign_*).
REFUSALS = ("door_command_unknown", "door_command_mismatch")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=True)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


@pytest.fixture(scope="module")
def ingest(new_db):
    """A store with one registered device and its key, and the device directory ingest checks against."""
    store = Store.open(new_db("fuzz"))
    key = DeviceKey.generate()
    register_device(store, "gate-01", public_key=key.public_text)
    register_device(store, "exam-01", kind="exam", public_key=key.public_text)
    register_device(store, "kiosk-01", kind="kiosk", public_key=key.public_text)
    return store, key, DeviceDirectory(store, refresh_s=3600)


def _admit_and_store(ingest, topic: str, payload: bytes) -> None:
    store, _, directory = ingest
    try:
        event = admit(topic, payload, directory, utc_text(datetime.now(timezone.utc)))
    except Rejected:
        return
    outcome = store_events(store, [event])  # admitted: the database must take it (or name a refusal)
    assert outcome[0] in ("stored", "duplicate", "replay", *REFUSALS) or outcome[0].startswith("foreign"), outcome


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_any_bytes_are_rejected_with_a_reason(ingest, payload):
    _admit_and_store(ingest, event_topic("site-a", "gate-01", "verdict"), payload)


@FUZZ
@given(body=json_values, depth=st.integers(min_value=0, max_value=5000))
def test_any_json_however_deep_is_rejected_with_a_reason(ingest, body, depth):
    payload = b"[" * depth + json.dumps({"body": body, "sig": "x"}).encode() + b"]" * depth
    _admit_and_store(ingest, event_topic("site-a", "gate-01", "verdict"), payload)


def _valid_body(kind: str, seq: int) -> dict:
    now = datetime.now(timezone.utc).isoformat()
    device = "exam-01" if kind.startswith("exam.") else "kiosk-01" if kind == "card" else "gate-01"
    common = {"v": 1, "id": str(uuid7()), "site": "site-a", "device": device, "seq": seq, "captured_at": now,
              "kind": kind}
    extra = {
        "verdict": {"camera": "c", "track": 1, "verdict": "granted", "subject": "ann", "score": 0.5,
                    "runner_up": 0.1, "threshold": 0.3, "margin": 0.1, "quality": 0.9, "frames": 3},
        "heartbeat": {"fps": 1.0, "stage_ms": {"detect": 1.0}, "frames": 1, "frames_dropped": 0, "outbox_depth": 0,
                      "outbox_refused": 0, "gallery_version": None, "gallery_size": 0, "liveness_enabled": False,
                      "uptime_s": 1.0},
        "gallery": {"version": 1, "size": 0},
        "config": {"version": 2, "outcome": "refused", "how": None, "running": 1, "reason": "camera cam-1: no frame"},
        "update": {"name": "buffalo_s", "sequence": 3, "version": 2, "outcome": "refused", "running": 1, "rollout": 1,
                   "self_test": 0.41, "reason": "self-test failed"},
        "crop": {"verdict": "v1", "sha256": "0" * 64, "nonce": "n", "ciphertext": "c"},
        "door": {"lane": 1, "outcome": "opened", "cause": "operator", "command": "c1", "operator": "op",
                 "reason": "r", "latency_ms": 12.5},
        "tailgate": {"lane": 1, "camera": "c", "track": 2, "after_track": 1, "after_subject": "ann", "boxes": 2},
        "exam.flag": {"session": "s1", "flag": "f1", "flag_kind": "no_face", "start": now, "confidence": 0.5,
                      "severity": "low"},
        "exam.evidence": {"session": "s1", "evidence": "e1", "what": "face", "reason": "checkin",
                          "sha256": "0" * 64, "nonce": "n", "ciphertext": "c"},
        "exam.session": {"session": "s1", "candidate": "ann", "exam_type": "t", "stage": "t", "started_at": now,
                         "checkin": "pending"},
        "card": {"read": "r1", "stage": "face", "outcome": "matched", "score": 0.7, "threshold": 0.3,
                 "liveness": 0.9, "nonce": "n", "sealed": "s"},
    }[kind]
    return common | extra


@FUZZ
@given(kind=st.sampled_from(sorted(EVENT_TYPES)), value=json_values, data=st.data(),
       seq=st.integers(min_value=1, max_value=10**9))
def test_signed_events_with_any_value_anywhere_are_stored_or_rejected(ingest, kind, value, data, seq):
    """The device's own key signs the mutated body: only the schema's bounds stand between it and storage."""
    _, key, _ = ingest
    body = _valid_body(kind, seq)
    field = data.draw(st.sampled_from(sorted(body)) | st.text(max_size=12), label="field")
    body[field] = value
    device = body["device"] if body.get("device") in ("gate-01", "exam-01", "kiosk-01") else "gate-01"
    try:
        sig = key.sign(canonical_json(body))
    except ValueError:  # NaN or infinity: canonical JSON has no form for it, so no device can sign it
        sig = "unsignable"
    payload = json.dumps({"body": body, "sig": sig}).encode()
    _admit_and_store(ingest, event_topic("site-a", device, kind), payload)


# -- the HTTP API -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("fuzz-api"), new_db("fuzz-api"))
    s.add_device("gate-01", "site-a")
    yield s
    s.close()


EXCLUDED = {"/api/events/stream",  # the live stream never ends, by design
            "/api/auth/logout"}  # it would revoke the token the fuzzer uses


def test_no_request_makes_the_api_fail(api):
    """Schemathesis generates requests from the running gateway's own OpenAPI schema, operation by operation."""
    schema = schemathesis.openapi.from_url(f"{api.gateway.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path not in EXCLUDED]
    assert len(operations) >= 20
    headers = {"Authorization": f"Bearer {api.token('admin')}"}
    for operation in operations:
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def no_server_error(case):
            response = case.call(base_url=api.gateway.base_url, headers=headers, timeout=30)
            assert response.status_code < 500, (f"{case.method} {case.formatted_path}: {response.status_code} "
                                                 f"{response.text[:300]}")
        no_server_error()
