"""The running gateway: the API, ingest and background jobs in one process.

`build_gateway(config)` opens the database (migrating it), checks it reaches
the audit head the gateway last signed, warns about files others can read, and
returns the app; its lifespan starts and stops ingest, the gallery pusher and
housekeeping.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from gateway.api import create_app
from gateway.api.deps import Gateway
from gateway.config import GatewayConfig
from gateway.services.security.audit import open_store
from gateway.services.security.auth import Auth
from gateway.services.broker.mosquitto import BrokerFiles, replica_login
from gateway.services.broker.embedded import EmbeddedBroker
from gateway.services.people.enrolment import EnrolmentService
from gateway.services.security.files import warn_exposed
from gateway.services.devices.galleries import GalleryPusher
from gateway.services.devices.registry import write_broker_logins
from gateway.services.events.ingest import ClockRules, Ingest, IngestMetrics
from gateway.services.operations.jobs import JobsLease, LiveRelay
from gateway.services.people.kiosk import CardProjector
from gateway.services.exams.candidates import forget_day_keys
from gateway.services.people.kiosk import purge as purge_card_reads
from gateway.services.events.live import LiveFeed
from gateway.services.security.pki import CertificateAuthority, client_tls
from gateway.services.operations.retention import Housekeeper
from gateway.services.security.secrets import GatewaySecrets
from wire.mqtt import BrokerUrl

log = logging.getLogger(__name__)


def build_gateway(config: GatewayConfig, adopt_database: bool = False) -> FastAPI:
    """The app, with ingest started and stopped by its lifespan when an MQTT broker is configured."""
    if config.replica and config.sqlite_file:
        raise ValueError("replicas share a PostgreSQL database: give --db postgresql://...")
    store, anchor = open_store(config.db, config.secrets_dir, adopt_database)
    secrets = GatewaySecrets(config.secrets_dir)
    database = config.sqlite_file
    warn_exposed([*([database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
                    if database else []), config.secrets_dir, config.broker_dir, config.trust_dir])
    live = LiveFeed()
    files = BrokerFiles(config.broker_dir)
    embedded = None
    if config.embedded_broker:
        files.init(port=config.embedded_broker_port)  # creates the gateway's broker login once
        embedded = EmbeddedBroker(config.db, config.broker_dir, config.embedded_broker_port)
        config.mqtt = embedded.url
    lease = JobsLease(store, config.replica or "gateway")
    relay = LiveRelay(store, live, config.replica) if config.replica else None
    ingest = pusher = None
    if config.mqtt:
        clock = ClockRules(config.clock.skew_limit_s, config.clock.max_backlog_days)
        if config.replica and not embedded:
            _replica_login(store, files, config.replica, config.mqtt)
        broker = files.gateway_url(config.mqtt, config.replica)
        # Across a network: the CA's certificate, and the gateway's own (`facegate pki issue facegate-gateway
        # --client`, or facegate-gateway-<replica>) for a certificate listener.
        tls = client_tls(CertificateAuthority(config.secrets_dir / "pki"), broker.username) if broker.tls else None
        ingest = Ingest(store, broker, replica=config.replica, tls=tls,
                        batch_max=config.ingest_batch_max, on_stored=live.publish, clock=clock,
                        exam_skew_flag_s=config.clock.exam_flag_s,
                        cards=CardProjector.open(secrets, config.trust_dir), time_zone=config.time_zone)
        pusher = GalleryPusher(store, secrets, lambda topic, payload: ingest.publish(topic, payload, retain=True),
                               may_run=lambda: lease.held, time_zone=config.time_zone,
                               download_url=config.download_url)
    housekeeper = Housekeeper(store, config.retention, on_change=pusher.poke if pusher else None,
                              may_run=lambda: lease.held, also=(lambda: purge_card_reads(store, config.kiosk),
                                                                lambda: forget_day_keys(store, config.time_zone)))
    auth = Auth(store, config.token_ttl_s, idle_s=config.session_idle_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if embedded:
            embedded.start()
        lease.start()
        if relay:
            relay.start()
        if ingest:
            ingest.start()
            pusher.start()
            log.info("ingesting from %s into %s", ingest.broker, store.name)
        housekeeper.start()
        yield
        housekeeper.stop()
        if ingest:
            pusher.stop()
            ingest.stop()
        if relay:
            relay.stop()
        lease.stop()
        if embedded:
            embedded.stop()
        auth.close()

    gateway = Gateway(
        config=config, store=store, auth=auth, live=live, metrics=ingest.metrics if ingest else IngestMetrics(),
        secrets=secrets, anchor=anchor, enrolment=EnrolmentService(store, secrets, config.models, config.quality),
        broker_files=files, publish=(lambda topic, payload: ingest.publish(topic, payload, retain=True)) if ingest
        else None, send=ingest.publish if ingest else None, on_consent_change=pusher.poke if pusher else None, runs_jobs=lambda: lease.held)
    return create_app(gateway, lifespan)


def _replica_login(store, files: BrokerFiles, replica: str, mqtt: str) -> None:
    """Each replica logs in as itself (one login, one connection). Its login comes from `facegate broker config
    --replica`; where the broker's folder is this host's and writable, a new replica adds its own."""
    if BrokerUrl.parse(mqtt).username or replica_login(replica) in files.gateway_logins():
        return
    try:
        files.add_replica(replica)
        write_broker_logins(store, files)
    except OSError as exc:
        raise ValueError(f"replica {replica} has no broker login in {files.gateway_login} and cannot add one "
                         f"({exc.strerror}): run `facegate broker config --replica {replica}` where the broker's "
                         "folder is") from None


def run_gateway(config: GatewayConfig, adopt_database: bool = False) -> None:
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ValueError("HTTPS needs both a certificate (--tls-cert) and its key (--tls-key)")
    app = build_gateway(config, adopt_database)
    log.info("API on http%s://%s:%d (docs at /docs)", "s" if config.tls_cert else "", config.host, config.port)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=3,
                ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key,
                proxy_headers=bool(config.trusted_proxies), forwarded_allow_ips=",".join(config.trusted_proxies))
