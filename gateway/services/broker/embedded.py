"""An in-process MQTT broker (amqtt) for `make demo`: nothing to install.

It enforces the same rules as the generated Mosquitto files, read from the same
registry: the gateway and active devices log in with their passwords; a device
publishes only under facegate/v1/<site>/<itself>/ and subscribes only to its own
cmd/ topics. Production and the tests use Mosquitto (persistence, speed); this
broker keeps nothing across restarts -- the device outboxes do.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import tomllib
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from gateway.services.broker.mosquitto import GATEWAY_USER, BrokerFiles, check_mosquitto_secret
from gateway.storage import Store
from wire.topics import GATEWAY_ONLINE, ROOT, device_prefix

log = logging.getLogger(__name__)


def _matches(topic: str, pattern: str) -> bool:
    """MQTT wildcard match of a topic (or a subscription filter) against an allowed pattern."""
    t, p = topic.split("/"), pattern.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(t) == len(p)


class _Registry:
    """Logins and allowed topics, from the gateway database and the broker folder."""

    def __init__(self, db: str, broker_dir: str):
        self.store = Store.open(db)
        self.files = BrokerFiles(broker_dir)

    def secret(self, username: str) -> tuple[str | None, bool]:
        """(password hash or plain gateway password, is_gateway)."""
        if username == GATEWAY_USER:
            return tomllib.loads(self.files.gateway_login.read_text(encoding="utf-8"))["password"], True
        for device, _site, secret in self.store.devices.broker_accounts():
            if device == username:
                return secret, False
        return None, False

    def allowed(self, username: str | None, topic: str, action: Action) -> bool:
        if username == GATEWAY_USER:
            patterns = {Action.PUBLISH: [f"{ROOT}/+/+/cmd/#", GATEWAY_ONLINE]}.get(
                action, [f"{ROOT}/+/+/events/#", f"{ROOT}/+/+/status"])
            return any(_matches(topic, p) for p in patterns)
        for device, site, _secret in self.store.devices.broker_accounts():
            if device == username:
                prefix = device_prefix(site, device)
                if action == Action.PUBLISH:
                    return _matches(topic, f"{prefix}/events/#") or topic == f"{prefix}/status"
                return _matches(topic, f"{prefix}/cmd/#") or topic == GATEWAY_ONLINE
        return False


@dataclass
class RegistryConfig:
    """Where both plugins read the registry from (amqtt fills it from the broker's plugin settings)."""

    db: str = "var/gateway.db"
    broker_dir: str = "var/broker"


class RegistryAuthPlugin(BaseAuthPlugin):
    Config = RegistryConfig

    def __init__(self, context) -> None:
        super().__init__(context)
        self.registry = _Registry(self.config.db, self.config.broker_dir)

    async def authenticate(self, *, session) -> bool | None:
        if not session.username or session.password is None:
            return False
        secret, is_gateway = self.registry.secret(session.username)
        password = session.password.decode() if isinstance(session.password, bytes) else session.password
        if secret is None:
            return False
        return password == secret if is_gateway else check_mosquitto_secret(password, secret)


class RegistryTopicPlugin(BaseTopicPlugin):
    Config = RegistryConfig

    def __init__(self, context) -> None:
        super().__init__(context)
        self.registry = _Registry(self.config.db, self.config.broker_dir)

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool | None:
        if action == Action.RECEIVE:
            return True  # what a client may receive was settled when it subscribed
        return bool(topic) and self.registry.allowed(session.username if session else None, topic, action)


class EmbeddedBroker:
    """Runs an amqtt broker on its own thread and event loop."""

    def __init__(self, db: str, broker_dir: str, port: int = 1883, host: str = "127.0.0.1"):
        plugin_config = {"db": str(db), "broker_dir": str(broker_dir)}
        self.config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                f"{__name__}.RegistryAuthPlugin": plugin_config,
                f"{__name__}.RegistryTopicPlugin": plugin_config,
            },
        }
        self.url = f"mqtt://{host}:{port}"
        self._loop = asyncio.new_event_loop()
        self._broker: Broker | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-broker", daemon=True)

    def start(self) -> None:
        for noisy in ("amqtt", "transitions"):  # both log every connection state change at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        log.info("embedded MQTT broker on %s", self.url)

    async def _start(self) -> None:
        self._broker = Broker(self.config, loop=self._loop)
        await self._broker.start()

    def stop(self) -> None:
        if self._broker:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
