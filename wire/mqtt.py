"""MQTT connection settings shared by devices and the gateway.

Both sides speak MQTT 3.1.1 (what both Mosquitto and the embedded demo broker
support) with QoS 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """`mqtt://[user:password@]host[:port]`; 1883 by default."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme != "mqtt":
            raise ValueError(f"broker URL {url!r}: only mqtt:// is supported")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        return cls(parts.hostname, parts.port or 1883,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def with_login(self, username: str | None, password: str | None) -> BrokerUrl:
        return BrokerUrl(self.host, self.port, username or self.username, password or self.password)

    def __str__(self) -> str:  # never prints the password
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def new_client(client_id: str, broker: BrokerUrl, *, clean_session: bool, manual_ack: bool = False,
               max_inflight: int = 100) -> mqtt.Client:
    """A paho client configured the one way FaceGate uses it; not yet connected."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client
