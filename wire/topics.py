"""MQTT topic layout.

    facegate/v1/<site>/<device>/events/<kind>   device -> gateway, QoS 1, signed event
    facegate/v1/<site>/<device>/status          retained "online"/"offline" (last will)
    facegate/v1/<site>/<device>/cmd/<what>      gateway -> device
    facegate/v1/gateway/online                  retained id of the gateway's latest connection

A gateway (any replica) publishes a new id on `gateway/online` each time it
(re)subscribes: a device that sees one live sends its unconfirmed events again
at once, since what it sent while no gateway was subscribed went nowhere.

Site and device ids are lower-case letters, digits, '-' and '_' so that they
can never smuggle MQTT wildcards or extra levels into a topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "facegate/v1"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
ALL_EVENTS = f"{ROOT}/+/+/events/#"
ALL_STATUS = f"{ROOT}/+/+/status"
GATEWAY_ONLINE = f"{ROOT}/gateway/online"


class TopicError(ValueError):
    """A topic or an id that does not fit the layout."""


def check_id(value: str, what: str = "id") -> str:
    if not ID_PATTERN.match(value or ""):
        raise TopicError(f"{what} {value!r} must be 1-64 of a-z, 0-9, '-', '_' and start with a letter or digit")
    return value


def shared(topic_filter: str, group: str) -> str:
    """The filter as an MQTT shared subscription: the broker hands each message to one member of `group`."""
    return f"$share/{group}/{topic_filter}"


def event_topic(site: str, device: str, kind: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/{check_id(device, 'device')}/events/{kind}"


def status_topic(site: str, device: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/{check_id(device, 'device')}/status"


def cmd_topic(site: str, device: str, what: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/{check_id(device, 'device')}/cmd/{what}"


def device_prefix(site: str, device: str) -> str:
    return f"{ROOT}/{check_id(site, 'site')}/{check_id(device, 'device')}"


@dataclass(frozen=True)
class Topic:
    site: str
    device: str
    channel: str  # "events" | "status" | "cmd"
    name: str | None  # event kind or command; None for status


def parse_topic(topic: str) -> Topic:
    """Split a FaceGate topic into its parts; TopicError if it does not fit the layout."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != ROOT:
        raise TopicError(f"not a FaceGate topic: {topic!r}")
    site, device, channel = parts[2], parts[3], parts[4]
    check_id(site, "site")
    check_id(device, "device")
    if channel == "status" and len(parts) == 5:
        return Topic(site, device, channel, None)
    if channel in ("events", "cmd") and len(parts) == 6:
        if not KIND_PATTERN.match(parts[5]):
            raise TopicError(f"bad {channel} name in {topic!r}")
        return Topic(site, device, channel, parts[5])
    raise TopicError(f"not a FaceGate topic: {topic!r}")
