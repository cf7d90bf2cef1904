"""MQTT connection settings shared by devices and the gateway.

Both sides speak MQTT 3.1.1 (what both Mosquitto and the embedded demo broker
support) with QoS 1. Across a network they speak it over TLS (`mqtts://`,
port 8883 by default): the client checks the broker's certificate against the
FaceGate CA, and may present its own (mTLS: the broker takes its common name
as the user name).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """`mqtt://[user:password@]host[:port]` (1883 by default) or `mqtts://...` (TLS, 8883 by default)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL {url!r}: only mqtt:// and mqtts:// are supported")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} names no host")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883),
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, tls)

    def with_login(self, username: str | None, password: str | None) -> BrokerUrl:
        return BrokerUrl(self.host, self.port, username or self.username, password or self.password, self.tls)

    def __str__(self) -> str:  # never prints the password
        user = f"{self.username}@" if self.username else ""
        return f"mqtt{'s' if self.tls else ''}://{user}{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsSettings:
    """What a client needs for TLS: the CA that signed the broker's certificate, and optionally its own."""

    ca_pem: str
    cert_pem: str | None = None  # mTLS: this client's certificate and key
    key_pem: str | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=self.ca_pem)
        if self.cert_pem and self.key_pem:
            # ssl loads a certificate chain only from a file: an owner-only one, gone once read.
            fd, path = tempfile.mkstemp(prefix="facegate-tls-")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(self.key_pem + "\n" + self.cert_pem)
                context.load_cert_chain(path)
            finally:
                os.unlink(path)
        return context


def new_client(client_id: str, broker: BrokerUrl, *, clean_session: bool, manual_ack: bool = False,
               max_inflight: int = 100, tls: TlsSettings | None = None) -> mqtt.Client:
    """A paho client configured the one way FaceGate uses it; not yet connected."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker.tls:
        if tls is None:
            raise ValueError(f"{broker} is TLS: the FaceGate CA certificate is needed to check it")
        client.tls_set_context(tls.context())
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client
