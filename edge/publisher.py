"""Drains the outbox to the MQTT broker, oldest first, QoS 1.

A row leaves the outbox only when the broker's PUBACK for it arrives. While
the broker is away nothing is published (the outbox is the queue, not paho's
memory); messages already in flight are resent by paho on reconnect, and
after a process restart everything still in the outbox is sent again. The
gateway drops the duplicates this can produce by event id.

The device's retained status topic says "online" while connected; the broker
publishes the last will "offline" if the device vanishes.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt

from edge.outbox import Outbox
from wire.mqtt import BrokerUrl, new_client
from wire.topics import status_topic

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, outbox: Outbox, broker: BrokerUrl, site: str, device: str, window: int = 100):
        self.outbox = outbox
        self.broker = broker
        self.window = window
        self._status = status_topic(site, device)
        self._client = new_client(device, broker, clean_session=True, max_inflight=window)
        self._client.will_set(self._status, "offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._wake = threading.Condition()
        self._connected = False
        self._inflight: dict[int, int] = {}  # paho message id -> outbox row
        self._acked: list[int] = []
        self._early: set[int] = set()
        self._last_sent = 0
        self._stop = False
        self._thread = threading.Thread(target=self._pump, name="outbox-publisher", daemon=True)
        self.published = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()
        self._thread.start()

    def notify(self) -> None:
        """A new event is in the outbox."""
        with self._wake:
            self._wake.notify()

    @property
    def connected(self) -> bool:
        return self._connected

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            time.sleep(0.05)
        return self.outbox.depth() == 0

    def stop(self) -> None:
        """Say "offline" (retained) and disconnect; what is unsent stays in the outbox."""
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
            self.last_error = f"broker refused the connection: {reason_code}"
            log.error("%s (%s)", self.last_error, self.broker)
            return
        log.info("connected to %s", self.broker)
        self.last_error = None
        client.publish(self._status, "online", qos=1, retain=True)
        with self._wake:
            self._connected = True
            self._wake.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._wake:
            if self._connected:
                log.warning("lost the broker (%s); events wait in the outbox", reason_code)
            self._connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._wake:
            row = self._inflight.pop(mid, None)
            if row is None:
                self._early.add(mid)  # acknowledged before _send registered it
                return
            self._acked.append(row)
            self._wake.notify()

    def _pump(self) -> None:
        while True:
            with self._wake:
                self._wake.wait(timeout=0.5)
                stop = self._stop
                acked, self._acked = self._acked, []
                room = self.window - len(self._inflight) if self._connected else 0
            if acked:
                self.outbox.delete(acked)
                self.published += len(acked)
            if stop:
                return
            if room > 0:
                self._send(room)

    def _send(self, room: int) -> None:
        for item in self.outbox.pending(after_row=self._last_sent, limit=room):
            # Never call paho while holding our lock: paho calls on_publish holding its own.
            info = self._client.publish(item.topic, item.payload, qos=1)
            with self._wake:
                self._last_sent = item.row
                if info.mid in self._early:
                    self._early.discard(info.mid)
                    self._acked.append(item.row)
                else:
                    self._inflight[info.mid] = item.row
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # disconnected meanwhile; paho keeps this copy and resends it on reconnect
