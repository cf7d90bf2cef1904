"""The wire contract: ids, topics, signatures and delivery acks."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.services.events.ingest import DeviceDirectory, Rejected, admit
from gateway.storage import Store
from stack import register_device
from wire import (DeviceKey, GateVerdictEvent, SignatureError, TopicError, event_topic, parse_topic,
                  public_key_from_text, sign_event, uuid7, verify_envelope)
from wire.events import Timestamp, utc_text
from wire.commands import DeliveryAck
from wire.ids import uuid7_time_ms


def verdict(**overrides) -> GateVerdictEvent:
    fields = dict(id=str(uuid7()), site="site-a", device="gate-01", seq=1, captured_at=datetime.now(timezone.utc),
                  camera="cam-1", track=1, verdict="granted", subject="ann", score=0.61, runner_up=0.2,
                  threshold=0.36, margin=0.05, quality=0.9, frames=3)
    return GateVerdictEvent(**(fields | overrides))


def test_uuid7_ids_are_version_7_unique_and_sorted_by_creation():
    ids = [uuid7() for _ in range(5000)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert abs(uuid7_time_ms(ids[0]) - datetime.now(timezone.utc).timestamp() * 1000) < 5000


def test_topics_round_trip_and_refuse_wildcards_and_extra_levels():
    t = parse_topic(event_topic("site-a", "gate-01", "verdict"))
    assert (t.site, t.device, t.channel, t.name) == ("site-a", "gate-01", "events", "verdict")
    for bad in ("facegate/v1/site-a/+/events/verdict", "facegate/v1/site-a/gate-01/events/a/b",
                "other/v1/site-a/gate-01/status", "facegate/v1/Site A/gate-01/status"):
        with pytest.raises(TopicError):
            parse_topic(bad)
    with pytest.raises(TopicError):
        event_topic("site-a", "gate/#", "verdict")


def test_a_signature_covers_every_field_of_the_body():
    key = DeviceKey.generate()
    envelope = json.loads(sign_event(verdict(), key))
    public = public_key_from_text(key.public_text)
    verify_envelope(envelope["body"], envelope["sig"], public)
    for field, value in (("subject", "mallory"), ("verdict", "unknown"), ("score", 0.99), ("seq", 2)):
        with pytest.raises(SignatureError):
            verify_envelope(envelope["body"] | {field: value}, envelope["sig"], public)
    with pytest.raises(SignatureError):
        verify_envelope(envelope["body"], envelope["sig"], public_key_from_text(DeviceKey.generate().public_text))
    with pytest.raises(SignatureError):
        verify_envelope(envelope["body"], None, public)


def test_delivery_acks_compress_to_ranges_and_expand_back():
    ack = DeliveryAck.of([5, 3, 4, 9, 1, 10, 4])
    assert ack.ranges == [(1, 1), (3, 5), (9, 10)]
    assert DeliveryAck.model_validate_json(ack.model_dump_json()).seqs() == [1, 3, 4, 5, 9, 10]


def test_the_gateway_refuses_revoked_devices_and_events_on_another_devices_topic(database):
    store = Store.open(database)
    key = DeviceKey.generate()
    register_device(store, "gate-01", public_key=key.public_text)
    register_device(store, "gate-02", public_key=DeviceKey.generate().public_text)
    directory = DeviceDirectory(store, refresh_s=0)
    payload = sign_event(verdict(), key)
    now = utc_text(datetime.now(timezone.utc))
    event = admit(event_topic("site-a", "gate-01", "verdict"), payload, directory, now)
    assert (event.device, event.subject, event.verdict) == ("gate-01", "ann", "granted")
    for topic in (event_topic("site-a", "gate-02", "verdict"), event_topic("site-b", "gate-01", "verdict"),
                  event_topic("site-a", "gate-01", "heartbeat")):
        with pytest.raises(Rejected) as err:
            admit(topic, payload, directory, now)
        assert err.value.reason == "topic_mismatch"
    with store.db.transaction() as tx:
        store.devices.set_status(tx, "gate-01", "revoked")
        tx.audit("test", "device.revoked", "gate-01")
    with pytest.raises(Rejected) as err:
        admit(event_topic("site-a", "gate-01", "verdict"), payload, directory, now)
    assert err.value.reason == "revoked_device"


def test_a_device_speaking_a_moment_after_it_was_provisioned_is_known(database):
    """Its first heartbeat is not resent for a minute: refused as unknown, its lanes stayed unknown that long."""
    store = Store.open(database)
    register_device(store, "gate-01", public_key=DeviceKey.generate().public_text)
    directory = DeviceDirectory(store, refresh_s=3600, lookups_per_s=3)
    assert directory.get("gate-01") is not None  # the cache is fresh from here on
    key = DeviceKey.generate()
    register_device(store, "gate-02", public_key=key.public_text)
    now = utc_text(datetime.now(timezone.utc))
    payload = sign_event(verdict(device="gate-02"), key)
    assert admit(event_topic("site-a", "gate-02", "verdict"), payload, directory, now).device == "gate-02"
    # Made-up ids: each is looked up once, and only a few a second; the devices it knows still answer.
    directory = DeviceDirectory(store, refresh_s=3600, lookups_per_s=3)
    lookups = []
    real_get = store.devices.get
    store.devices.get = lambda device: lookups.append(device) or real_get(device)
    for n in range(10):
        assert directory.get(f"ghost-{n}") is None
        assert directory.get(f"ghost-{n}") is None
    assert lookups == ["ghost-0", "ghost-1", "ghost-2"]
    assert directory.get("gate-02").id == "gate-02"


def test_ids_a_device_chooses_cannot_carry_markup_into_pages():
    from pydantic import ValidationError

    from wire.events import ExamFlagEvent

    fields = dict(id=str(uuid7()), site="site-a", device="exam-01", seq=1, captured_at=datetime.now(timezone.utc),
                  session="s-1", start=datetime.now(timezone.utc), confidence=1.0, severity="high",
                  flag_kind="no_face")
    ExamFlagEvent(flag=str(uuid7()), **fields)
    for bad in ('"><img src=x onerror=alert(1)>', "../../api/users", ""):
        with pytest.raises(ValidationError):
            ExamFlagEvent(flag=bad, **fields)


def test_a_timestamp_on_the_wire_is_rfc3339_text_not_a_number():
    """Hypothesis found a signed exam flag whose `start` was 1 (Unix time): admitted, then it broke the exam
    projection, which reads the stored body's text."""
    timestamp = TypeAdapter(Timestamp)
    assert timestamp.validate_python("2026-11-23T08:30:00Z").year == 2026
    for number in (1, 1795460000, 1.5, True):
        with pytest.raises(ValidationError, match="RFC 3339"):
            timestamp.validate_python(number)


def test_numbers_and_flags_on_the_wire_are_json_numbers_and_booleans_not_lookalikes():
    """Hypothesis found a signed gallery event whose `version` was false: pydantic took it as 0, and the
    gallery follow-up, which reads the stored body, compared a version with false."""
    from wire.events import Count, Flag, Number

    count, number, flag = TypeAdapter(Count), TypeAdapter(Number), TypeAdapter(Flag)
    assert (count.validate_python(7), number.validate_python(0.5), number.validate_python(1)) == (7, 0.5, 1.0)
    assert flag.validate_python(True) is True
    for lookalike in (False, True, "7", 7.0):
        with pytest.raises(ValidationError, match="integer is a JSON number"):
            count.validate_python(lookalike)
    for lookalike in (True, "0.5"):
        with pytest.raises(ValidationError, match="a number is a JSON number"):
            number.validate_python(lookalike)
    for lookalike in (1, 0, "true", "yes"):
        with pytest.raises(ValidationError, match="a flag is true or false"):
            flag.validate_python(lookalike)
