"""Drains the outbox to the MQTT broker, oldest first, QoS 1.

An event leaves the outbox only when the gateway confirms it committed it
(`cmd/ack`); the broker's PUBACK alone is not enough, because a broker killed
between acknowledging and forwarding would lose the event. So:

- at most `window` events are out unconfirmed at a time; while the gateway is
  away the rest wait on the device's disk, not in the broker's memory;
- on every (re)connection, and whenever a gateway announces a new subscription
  (`gateway/online`: what was sent while none was subscribed went nowhere),
  sending restarts from the oldest unconfirmed event;
- if nothing is confirmed for `resend_after_s`, the unconfirmed window is sent
  again (at most `window` events a time, however long the gateway is away).

The gateway drops the duplicates this produces by event id. The device's
retained status topic says "online" while connected; the broker publishes
the last will "offline" if the device vanishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.link.outbox import Outbox
from wire.commands import ACK, DeliveryAck
from wire.mqtt import BrokerUrl, TlsSettings, new_client
from wire.topics import GATEWAY_ONLINE, cmd_topic, status_topic

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, outbox: Outbox, broker: BrokerUrl, site: str, device: str, window: int = 1000,
                 resend_after_s: float = 60.0, on_command: Callable[[str, bytes], None] | None = None,
                 tls: TlsSettings | None = None):
        self.outbox = outbox
        self.broker = broker
        self.window = window
        self.resend_after_s = resend_after_s
        self._status = status_topic(site, device)
        self._acks = cmd_topic(site, device, ACK)
        self._commands = cmd_topic(site, device, "#")
        self._command_prefix = cmd_topic(site, device, "")
        self.on_command = on_command  # every other cmd/<what> (e.g. the gallery), on paho's thread
        self._client = new_client(device, broker, clean_session=True, max_inflight=window, tls=tls)
        self._client.will_set(self._status, "offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._wake = threading.Condition()
        self._connected = False
        self._restart = False  # set on (re)connect: send again from the oldest unconfirmed event
        self._confirmed: list[int] = []
        self._stop = False
        self._thread = threading.Thread(target=self._pump, name="outbox-publisher", daemon=True)
        self.confirmed = 0

    def start(self) -> None:
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()
        self._thread.start()

    def notify(self) -> None:
        """A new event is in the outbox."""
        with self._wake:
            self._wake.notify()

    def flush(self, timeout_s: float, settle_s: float = 0.5) -> bool:
        """Wait until the gateway has confirmed everything and nothing new has come for `settle_s` (True), or the
        timeout passes (False). The settling matters on a (re)connection: the broker hands the device its
        retained gallery, and the device's confirmation of it is one more event, committed a moment later."""
        deadline = time.monotonic() + timeout_s
        empty_since = None
        while time.monotonic() < deadline:
            if self.outbox.depth():
                empty_since = None
            elif empty_since is None:
                empty_since = time.monotonic()
            elif time.monotonic() - empty_since >= settle_s:
                return True
            time.sleep(0.05)
        return self.outbox.depth() == 0

    def stop(self) -> None:
        """Say "offline" (retained) and disconnect; what is unconfirmed stays in the outbox."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=5)
        if self._connected:
            self._client.publish(self._status, "offline", qos=1, retain=True).wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the connection: %s", self.broker, reason_code)
            return
        log.info("connected to %s", self.broker)
        client.subscribe([(self._commands, 1), (GATEWAY_ONLINE, 1)])
        client.publish(self._status, "online", qos=1, retain=True)
        with self._wake:
            self._connected = True
            self._restart = True
            self._wake.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._wake:
            if self._connected and not self._stop:
                log.warning("lost the broker (%s); events wait in the outbox", reason_code)
            self._connected = False

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == GATEWAY_ONLINE:
            # The retained copy comes with our own subscription, after which we restart anyway; a live one is a
            # gateway that has just (re)subscribed.
            if not message.retain:
                with self._wake:
                    self._restart = True
                    self._wake.notify()
            return
        if message.topic != self._acks:
            if self.on_command and message.topic.startswith(self._command_prefix):
                try:
                    self.on_command(message.topic[len(self._command_prefix):], message.payload)
                except Exception:  # a bad command must not stop event delivery
                    log.exception("command on %s failed", message.topic)
            return
        try:
            seqs = DeliveryAck.model_validate_json(message.payload).seqs()
        except ValueError:
            log.warning("ignored a malformed delivery ack")
            return
        with self._wake:
            self._confirmed.extend(seqs)
            self._wake.notify()

    def _pump(self) -> None:
        cursor = 0  # highest seq sent on this connection
        unconfirmed: set[int] = set()
        progress_at = time.monotonic()
        while True:
            with self._wake:
                self._wake.wait(timeout=0.5)
                stop, connected, restart = self._stop, self._connected, self._restart
                confirmed, self._confirmed, self._restart = self._confirmed, [], False
            if confirmed:
                self.confirmed += self.outbox.confirm(confirmed)
                unconfirmed.difference_update(confirmed)
                progress_at = time.monotonic()
            if stop:
                return
            if not connected:
                continue
            stalled = unconfirmed and time.monotonic() - progress_at > self.resend_after_s
            if restart or stalled:
                cursor, progress_at = 0, time.monotonic()
                unconfirmed.clear()
            room = self.window - len(unconfirmed)
            if room <= 0:
                continue
            for item in self.outbox.pending(after_seq=cursor, limit=room):
                # Never call paho while holding our lock: paho calls back holding its own.
                self._client.publish(item.topic, item.payload, qos=1)
                cursor = item.seq
                unconfirmed.add(item.seq)
