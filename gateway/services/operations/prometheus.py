"""The gateway's state in Prometheus' text format, for `/metrics` on every replica.

Read when scraped, from what the gateway already keeps (ingest's counters, the
database, each device's last heartbeat): nothing is counted twice, and a value
is never older than the scrape. Each replica reports its own ingest counters
(label `replica`); what lives in the database (quarantine size, device health)
is the same on every replica, so alert on it with `max()`.

Example alert rules: docs/observability.md.
"""

from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from gateway.services.events.ingest import IngestMetrics
from gateway.storage import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayCollector:
    """A Prometheus collector over one gateway's parts."""

    def __init__(self, store: Store, metrics: IngestMetrics, replica: str | None, runs_jobs, live_listeners):
        self.store, self.metrics, self.replica = store, metrics, replica or "gateway"
        self.runs_jobs, self.live_listeners = runs_jobs, live_listeners

    def collect(self):
        r = [self.replica]
        snap = self.metrics.snapshot()
        messages = CounterMetricFamily("facegate_ingest_messages", "Messages ingest took from the broker, by outcome",
                                       labels=["replica", "outcome"])
        messages.add_metric(r + ["received"], snap["received"])
        messages.add_metric(r + ["stored"], snap["stored"])
        messages.add_metric(r + ["quarantined"], snap["quarantined"])
        yield messages
        rejected = CounterMetricFamily("facegate_ingest_rejected", "Messages refused, by reason",
                                       labels=["replica", "reason"])
        for reason, count in sorted(snap["rejected"].items()):
            rejected.add_metric(r + [reason], count)
        yield rejected
        connects = CounterMetricFamily("facegate_ingest_broker_connects",
                                       "Times ingest connected to the broker (more than once: the link was lost)",
                                       labels=["replica"])
        connects.add_metric(r, snap["broker_connects"])
        yield connects
        buckets, total_ms, count = self.metrics.batch_latency()
        latency = HistogramMetricFamily("facegate_ingest_batch_seconds", "Time to store one batch and commit it",
                                        labels=["replica"])
        latency.add_metric(r, [(str(bound / 1000), n) for bound, n in buckets] + [("+Inf", count)], total_ms / 1000)
        yield latency
        yield _gauge("facegate_replica_runs_jobs", "1 if this replica runs the background jobs", r,
                     1 if self.runs_jobs() else 0, ["replica"])
        yield _gauge("facegate_live_listeners", "Open live streams on this replica", r, self.live_listeners(),
                     ["replica"])
        pool = self.store.db.engine.pool
        connections = GaugeMetricFamily("facegate_db_pool_connections", "Database connections of this replica",
                                        labels=["replica", "state"])
        if hasattr(pool, "checkedout"):
            connections.add_metric(r + ["in_use"], pool.checkedout())
            connections.add_metric(r + ["idle"], pool.checkedin())
        yield connections
        yield _gauge("facegate_quarantine_messages", "Messages kept in quarantine (database)", [],
                     self.store.events.quarantine_count())
        yield from self._devices()

    def _devices(self):
        labels = ["device", "site", "kind"]
        online = GaugeMetricFamily("facegate_device_online", "1 while the device is connected", labels=labels)
        seen = GaugeMetricFamily("facegate_device_last_heartbeat_seconds",
                                 "When the gateway last received the device's heartbeat (Unix time)", labels=labels)
        fps = GaugeMetricFamily("facegate_device_fps", "Frames per second at the last heartbeat", labels=labels)
        depth = GaugeMetricFamily("facegate_device_outbox_depth", "Events waiting in the device's outbox",
                                  labels=labels)
        skew = GaugeMetricFamily("facegate_device_clock_skew_seconds", "Gateway clock minus device clock",
                                 labels=labels)
        config_latest = GaugeMetricFamily("facegate_device_config_latest",
                                          "The newest configuration version made for the device", labels=labels)
        config_running = GaugeMetricFamily("facegate_device_config_running",
                                           "The configuration version the device says it runs (0: its local file)",
                                           labels=labels)
        config_refused = GaugeMetricFamily("facegate_device_config_refused",
                                           "1 if the device refused its newest configuration version", labels=labels)
        pack_running = GaugeMetricFamily("facegate_device_pack_version",
                                         "The model pack version the device says it runs (0: the one it came with)",
                                         labels=labels)
        pack_refused = GaugeMetricFamily("facegate_device_update_refused",
                                         "1 if the device refused the newest pack update sent to it", labels=labels)
        configs = self.store.device_configs.newest_of_every_device()
        updates = self.store.updates.newest_of_every_device()
        for device in self.store.devices.all():
            if not device.active:
                continue
            key = [device.id, device.site, device.kind]
            online.add_metric(key, 1 if device.online else 0)
            beat = device.last_heartbeat or {}
            if device.last_heartbeat_at:
                seen.add_metric(key, _unix(device.last_heartbeat_at))
            if "fps" in beat:
                fps.add_metric(key, float(beat["fps"]))
            if "outbox_depth" in beat:
                depth.add_metric(key, float(beat["outbox_depth"]))
            if device.clock_skew_s is not None:
                skew.add_metric(key, device.clock_skew_s)
            if device.id in configs:
                config_latest.add_metric(key, configs[device.id].version)
                config_refused.add_metric(key, 1 if configs[device.id].outcome == "refused" else 0)
            if device.config_version is not None:
                config_running.add_metric(key, device.config_version)
            if beat.get("pack_version") is not None:
                pack_running.add_metric(key, float(beat["pack_version"]))
            if device.id in updates:
                pack_refused.add_metric(key, 1 if updates[device.id].outcome == "refused" else 0)
        yield from (online, seen, fps, depth, skew, config_latest, config_running, config_refused, pack_running,
                    pack_refused)
        yield from self._rollouts()

    def _rollouts(self):
        labels = ["rollout", "pack", "version"]
        stage = GaugeMetricFamily("facegate_rollout_stage", "The stage a running rollout is at (1-based)",
                                  labels=labels)
        stopped = GaugeMetricFamily("facegate_rollout_stopped",
                                    "1 for a rollout that stopped by itself or by hand (its devices sent back)",
                                    labels=labels)
        for rollout in self.store.updates.rollouts(limit=20):
            key = [str(rollout.id), rollout.name, str(rollout.version)]
            if rollout.state == "running":
                stage.add_metric(key, rollout.stage + 1)
            stopped.add_metric(key, 1 if rollout.state == "stopped" else 0)
        yield from (stage, stopped)


def _gauge(name: str, help_text: str, values: list[str], value: float, labels: list[str] | None = None):
    gauge = GaugeMetricFamily(name, help_text, labels=labels or [])
    gauge.add_metric(values, value)
    return gauge


def _unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def exposition(collector: GatewayCollector) -> bytes:
    """The collector's metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
