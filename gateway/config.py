"""The gateway's one typed configuration object: defaults < TOML file < FACEGATE_GATEWAY__* env."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, PositiveFloat, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.quality import QualitySettings
from models.settings import ModelSettings


class RetentionSettings(BaseModel):
    """Days each data class is kept. QCVN 105 asks 5 years for exam session data."""

    verdict_days: int = Field(365, ge=1)  # verdicts and what the doors did (door, tailgate)
    heartbeat_days: int = Field(30, ge=1)
    gallery_days: int = Field(365 * 5, ge=1)  # gallery confirmations: proof that erasures reached devices
    exam_session_days: int = Field(365 * 5, ge=1)  # exam session records and flags (QCVN 105: 5 years)
    exam_evidence_days: int = Field(365 * 5, ge=1)  # evidence photos; a site may keep them shorter
    face_crop_days: int = Field(1, ge=1)  # the live page's pictures of unknown and spoof faces: for the day's cards
    interval_s: float = Field(60.0, gt=0)

    def days(self) -> dict[str, int]:
        # A kiosk's card events are deleted with their read once the person decides (gateway/services/people/kiosk.py);
        # a day is the backstop.
        return {"verdict": self.verdict_days, "door": self.verdict_days, "tailgate": self.verdict_days, "card": 1,
                "heartbeat": self.heartbeat_days, "gallery": self.gallery_days,
                "config": self.gallery_days, "update": self.gallery_days,
                "exam.session": self.exam_session_days, "exam.flag": self.exam_session_days,
                "exam.evidence": self.exam_evidence_days, "crop": self.face_crop_days}


class HttpSettings(BaseModel):
    """Limits on what a request may cost before anyone is authenticated."""

    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # any request body
    max_upload_bytes: int = Field(48 * 1024 * 1024, ge=1024)  # an enrolment photo or an exam list, base64 in JSON


class ClockSettings(BaseModel):
    """When a device's clock is not trusted for an event's age (see gateway/services/events/ingest.py)."""

    skew_limit_s: float = Field(300.0, gt=0)  # captured further in the future than this: suspect
    max_backlog_days: float = Field(60.0, gt=0)  # captured longer ago than this on arrival: suspect
    exam_flag_s: float = Field(120.0, gt=0)  # an exam session's device clock further off: a technical flag


class KioskSettings(BaseModel):
    """Self-enrolment at a kiosk from the chip ID card (gateway/services/people/kiosk.py)."""

    # A card whose signer no trusted CSCA issued: refused unless the site decides otherwise (a foreign card before
    # its country's CSCA is installed). A tampered card is refused whatever this says.
    allow_untrusted_issuer: bool = False
    # The gateway decides an enrolment itself from what the kiosk sealed, never from the kiosk's verdict: the live
    # face's cosine to the chip's portrait must reach the pack's 1:1 threshold (or this one, if set), and a
    # liveness score the kiosk reports must reach `min_liveness`; with `require_liveness`, a read without one
    # (a kiosk with no liveness model) is refused.
    verify_threshold: float | None = Field(None, ge=-1.0, le=1.0)
    min_liveness: float = Field(0.5, ge=0.0, le=1.0)
    require_liveness: bool = False
    # A kiosk enrols a visitor for what its set-up says until their ticket ends, this many days on at most: never
    # open-ended (gateway/services/devices/kiosks.py).
    max_validity_days: int = Field(366, ge=1, le=3660)
    read_ttl_s: float = Field(900.0, gt=0)  # what a read gave is deleted this long after it was asked for at most
    notice_version: str = Field("kiosk-v1", max_length=40)  # the consent screen's text, as recorded with consents
    # A kiosk's own screen goes back to the start this long after a person's last step, and after `idle_s` untouched.
    back_to_start_s: float = Field(10.0, ge=1, le=300)
    idle_s: float = Field(60.0, ge=10, le=3600)


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACEGATE_GATEWAY__", env_nested_delimiter="__", extra="forbid")

    # An SQLite file (the embedded default), or a PostgreSQL URL: postgresql://user:password@host:5432/facegate.
    db: str = "var/gateway.db"
    # Both default to folders beside an SQLite database, so `--db X` alone finds everything that goes with X
    # (beside var/ for a PostgreSQL URL).
    broker_dir: Path | None = None  # generated Mosquitto files and the gateway's broker login
    secrets_dir: Path | None = None  # the gateway's signing key, ID-card hash key and audit anchor
    trust_dir: Path | None = None  # the Country Signing CAs chip ID cards are checked against (facegate card trust)
    updates_dir: Path | None = None  # the files of published updates (model packs): beside the secrets folder
    mqtt: str | None = "mqtt://127.0.0.1:1883"  # None: API only, no ingest
    # One of several gateways on one PostgreSQL database: its name. Replicas share ingest (an MQTT shared
    # subscription), take turns at the background jobs and relay each other's live events (services/jobs.py).
    replica: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    embedded_broker: bool = False  # run an in-process broker (the demo) on embedded_broker_port
    embedded_broker_port: int = Field(1883, ge=1, le=65535)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # HTTPS served by the gateway itself (a PEM certificate, e.g. `facegate pki issue NAME --server`, and its key);
    # or leave both unset and put a reverse proxy in front (docs/scale-out.md).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # The address devices fetch updates from (https://gateway.example:8443); unset: this host and port, https when
    # the gateway has a certificate.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto the gateway believes (the client's address counts
    # failed logins; the scheme marks cookies Secure). Empty: nobody's, the connection's own address counts.
    trusted_proxies: list[str] = Field(default_factory=list)
    # The sites' time zone (IANA name): their "today", their day filters.
    time_zone: str = "Asia/Ho_Chi_Minh"
    # What an operator is told to do on an `unknown` or `spoof_suspected` verdict, in the site's own words (shown
    # as written, whatever the reader's language); unset: FaceGate's own, translated (gateway/services/events/follow_up.py).
    instructions: dict[Literal["unknown", "spoof_suspected", "passback", "no_pass", "wrong_gate", "used", "forged",
                               "tailgate"], str] = Field(default_factory=dict)
    # The pages' and reports' language until a user picks their own (gateway/i18n).
    default_language: Literal["vi", "en"] = "vi"
    token_ttl_s: float = Field(12 * 3600, gt=0)  # a login lasts at most this long (an operator's shift)
    # ... and ends sooner when unused this long, by role (missing roles keep their defaults: an operator's 12 h
    # shift, a supervisor's 2 h, an admin's 30 min, an auditor's 1 h; gateway/services/security/auth.py).
    session_idle_s: dict[Literal["operator", "supervisor", "admin", "auditor", "kiosk"], PositiveFloat] = Field(
        default_factory=dict)
    ingest_batch_max: int = Field(1000, ge=1)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)  # packs enrolment makes templates with
    quality: QualitySettings = Field(default_factory=QualitySettings)  # the floor an enrolment photo must clear
    http: HttpSettings = Field(default_factory=HttpSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (e.g. Asia/Ho_Chi_Minh)") from None
        return value

    def model_post_init(self, _context) -> None:
        self.db = str(self.db)
        self.broker_dir = self.broker_dir or self.folder / "broker"
        self.secrets_dir = self.secrets_dir or self.folder / "secrets"
        self.trust_dir = self.trust_dir or self.folder / "trust"
        self.updates_dir = self.updates_dir or self.secrets_dir.parent / "updates"

    @property
    def sqlite_file(self) -> Path | None:
        """The database file, when the database is SQLite."""
        return None if "://" in self.db else Path(self.db)

    @property
    def download_url(self) -> str:
        """Where devices reach the gateway's API for update files, without a trailing slash."""
        own = f"{'https' if self.tls_cert else 'http'}://{self.host}:{self.port}"
        return (self.public_url or own).rstrip("/")

    @property
    def folder(self) -> Path:
        """Where the gateway's other files go by default: beside its SQLite file, or var/."""
        return self.sqlite_file.parent if self.sqlite_file else Path("var")


def load_gateway_config(path: Path | None = None, **overrides) -> GatewayConfig:
    """Defaults, the TOML file's [gateway] table, env, then explicit overrides (command-line flags)."""
    values = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("gateway", {}) if path else {}
    from_env_config = GatewayConfig()
    from_env = from_env_config.model_dump(exclude_defaults=True)
    for folder, name in (("broker_dir", "broker"), ("secrets_dir", "secrets"), ("trust_dir", "trust"),
                         ("updates_dir", "updates")):
        if getattr(from_env_config, folder) == from_env_config.folder / name:  # derived, not set
            from_env.pop(folder, None)
    return GatewayConfig(**(values | from_env | {k: v for k, v in overrides.items() if v is not None}))
