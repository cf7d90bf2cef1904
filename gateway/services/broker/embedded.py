"""An in-process MQTT broker (amqtt) for `make demo`: nothing to install.

It enforces the same rules as the generated Mosquitto files, read from the same
registry: the gateway and active devices log in with their passwords; a device
publishes only under facegate/v1/<site>/<itself>/ and subscribes only to its own
cmd/ topics; and one login is one client id (`LoginIsClientId`). Production and
the tests use Mosquitto (persistence, speed); this broker keeps nothing across
restarts -- the device outboxes do.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.utils import gen_client_id
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
            return self.files.gateway_logins()[GATEWAY_USER], True
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


class LoginIsClientId(Broker):
    """amqtt with Mosquitto's `use_username_as_clientid`: a client's id is its login, so a client can only take
    over its own login's connection.

    amqtt looks a session up by the client id the CONNECT names, and drops or takes it over, before it checks the
    password; here the login is checked first. An accepted client gets its login as its id, a refused one a
    random id (it then touches no one's session before amqtt refuses it). Sessions are clean: in the demo the
    broker runs inside the gateway, so nothing outlives the gateway that a persistent session would keep.
    """

    async def _initialize_client_session(self, reader, writer, remote_address, remote_port):
        handler, session = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        session.client_id = session.username if await self._authenticate(session, None) else gen_client_id()
        session.clean_session = True
        await self._delete_session(session.client_id)
        session.parent = 0  # no session present
        return handler, session


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
        self._broker = LoginIsClientId(self.config, loop=self._loop)
        await self._broker.start()

    def stop(self) -> None:
        if self._broker:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
