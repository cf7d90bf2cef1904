"""`facegate gateway run`: the API and the ingest worker in one process."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from gateway.api import create_app
from gateway.auth import Auth
from gateway.config import GatewayConfig
from gateway.galleries import GalleryPusher
from gateway.retention import Housekeeper
from gateway.secrets import GatewaySecrets
from gateway.embedded_broker import EmbeddedBroker
from gateway.ingest import Ingest
from gateway.live import LiveFeed
from gateway.storage import Storage
from provisioning.broker import BrokerFiles
from provisioning.enrolment import EnrolmentService

log = logging.getLogger(__name__)


def build_gateway(config: GatewayConfig) -> FastAPI:
    """The app, with ingest started and stopped by its lifespan when an MQTT broker is configured."""
    storage = Storage(config.db)
    secrets = GatewaySecrets(config.secrets_dir)
    live = LiveFeed()
    files = BrokerFiles(config.broker_dir)
    embedded = None
    if config.embedded_broker:
        files.init(port=config.embedded_broker_port)  # creates the gateway's broker login once
        embedded = EmbeddedBroker(config.db, config.broker_dir, config.embedded_broker_port)
        config.mqtt = embedded.url
    ingest = pusher = None
    if config.mqtt:
        ingest = Ingest(storage, files.gateway_url(config.mqtt), batch_max=config.ingest_batch_max,
                        on_stored=live.publish)
        pusher = GalleryPusher(storage, secrets, lambda topic, payload: ingest.publish(topic, payload, retain=True))
    housekeeper = Housekeeper(storage, config.retention, on_change=pusher.poke if pusher else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if embedded:
            embedded.start()
        if ingest:
            ingest.start()
            pusher.start()
            log.info("ingesting from %s into %s", ingest.broker, config.db)
        housekeeper.start()
        yield
        housekeeper.stop()
        if ingest:
            pusher.stop()
            ingest.stop()
        if embedded:
            embedded.stop()

    return create_app(storage, Auth(storage, config.token_ttl_s), live, ingest.metrics if ingest else None, lifespan,
                      enrolment=EnrolmentService(storage, secrets, config.models, config.quality), on_consent_change=(
                          pusher.poke if pusher else None),
                      publish=(lambda topic, payload: ingest.publish(topic, payload, retain=True)) if ingest else None,
                      signing_key=secrets.signing_key, broker_files=files, secrets=secrets)


def run_gateway(config: GatewayConfig) -> None:
    app = build_gateway(config)
    log.info("API on http://%s:%d (docs at /docs)", config.host, config.port)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=3)
