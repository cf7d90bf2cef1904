"""The gateway's one typed configuration object: defaults < TOML file < FACEGATE_GATEWAY__* env."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.retention import RetentionSettings
from models.quality import QualitySettings
from models.settings import ModelSettings


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACEGATE_GATEWAY__", env_nested_delimiter="__", extra="forbid")

    db: Path = Path("var/gateway.db")
    broker_dir: Path = Path("var/broker")  # generated Mosquitto files and the gateway's broker login
    secrets_dir: Path = Path("var/secrets")  # the gateway's gallery-signing key and ID-card hash key
    mqtt: str | None = "mqtt://127.0.0.1:1883"  # None: API only, no ingest
    embedded_broker: bool = False  # run an in-process broker (the demo) on embedded_broker_port
    embedded_broker_port: int = Field(1883, ge=1, le=65535)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    token_ttl_s: float = Field(8 * 3600, gt=0)
    ingest_batch_max: int = Field(1000, ge=1)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)  # packs enrolment makes templates with
    quality: QualitySettings = Field(default_factory=QualitySettings)  # the floor an enrolment photo must clear


def load_gateway_config(path: Path | None = None, **overrides) -> GatewayConfig:
    """Defaults, the TOML file's [gateway] table, env, then explicit overrides (command-line flags)."""
    values = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("gateway", {}) if path else {}
    from_env = GatewayConfig().model_dump(exclude_defaults=True)
    return GatewayConfig(**(values | from_env | {k: v for k, v in overrides.items() if v is not None}))
