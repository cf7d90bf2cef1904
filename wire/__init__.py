"""The wire contract between edge devices and the gateway, defined once.

Both sides import this package: MQTT topic layout (`topics`), the versioned
event schemas (`events`), sortable event ids (`ids`) and Ed25519 signing over
a canonical serialisation (`signing`).
"""

from wire.events import (EVENT_TYPES, SCHEMA_VERSION, Envelope, Event, EventBase, GateVerdictEvent,
                         HeartbeatEvent, parse_event)
from wire.ids import uuid7
from wire.signing import DeviceKey, SignatureError, canonical_json, public_key_from_text, sign_event, verify_envelope
from wire.topics import Topic, TopicError, cmd_topic, event_topic, parse_topic, status_topic

__all__ = [
    "EVENT_TYPES", "SCHEMA_VERSION", "Envelope", "Event", "EventBase", "GateVerdictEvent", "HeartbeatEvent",
    "parse_event", "uuid7", "DeviceKey", "SignatureError", "canonical_json", "public_key_from_text", "sign_event",
    "verify_envelope", "Topic", "TopicError", "cmd_topic", "event_topic", "parse_topic", "status_topic",
]
