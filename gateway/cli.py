"""Gateway commands of `facegate`: gateway run, user add, audit verify, retention run, broker config, packs
publish, releases publish, pki.

Each command parses its arguments and calls a service; nothing more.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("facegate")


def load_config(args: argparse.Namespace):
    """The gateway configuration, with what the command line gave on top."""
    from gateway.config import load_gateway_config

    return load_gateway_config(getattr(args, "config", None), db=getattr(args, "db", None),
                               broker_dir=getattr(args, "broker_dir", None),
                               secrets_dir=getattr(args, "secrets_dir", None), mqtt=getattr(args, "mqtt", None),
                               trust_dir=getattr(args, "trust_dir", None),
                               host=getattr(args, "host", None), port=getattr(args, "port", None),
                               replica=getattr(args, "replica", None), tls_cert=getattr(args, "tls_cert", None),
                               tls_key=getattr(args, "tls_key", None),
                               trusted_proxies=getattr(args, "trusted_proxy", None))


def open_store(args: argparse.Namespace):
    """The gateway's store, as every command that changes something opens it (checked, anchored)."""
    from gateway.services.security.audit import open_store as open_anchored

    config = load_config(args)
    return open_anchored(config.db, config.secrets_dir)[0]


def cmd_gateway_run(args: argparse.Namespace) -> int:
    from gateway.server import run_gateway

    config = load_config(args)
    if args.embedded_broker:
        config.embedded_broker = True
        config.embedded_broker_port = args.broker_port or config.embedded_broker_port
    if args.no_ingest:
        config.mqtt = None
    elif not config.embedded_broker and config.mqtt and not (config.broker_dir / "gateway.toml").exists() \
            and "@" not in config.mqtt:
        log.error("no broker login in %s: run `facegate broker config --dir %s` first, or give --mqtt with a login",
                  config.broker_dir, config.broker_dir)
        return 2
    run_gateway(config, adopt_database=args.adopt_database)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("FACEGATE_PASSWORD"):
        return os.environ["FACEGATE_PASSWORD"]
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from gateway.services.security.auth import Auth

    Auth(open_store(args)).add_user(args.name, args.role, _read_password(args), actor="cli", device=args.device)
    print(f"user {args.name} added with role {args.role}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from gateway.services.security.audit import verify_database

    config = load_config(args)
    report = verify_database(config.db, config.secrets_dir)
    print(report.line())
    return 0 if report.ok else 1


def cmd_retention_run(args: argparse.Namespace) -> int:
    from gateway.services.exams.candidates import forget_day_keys
    from gateway.services.operations.retention import run_retention

    config, store = load_config(args), open_store(args)
    done = run_retention(store, config.retention)
    done["exam_day_keys_forgotten"] = forget_day_keys(store, config.time_zone)
    print("  ".join(f"{k} {v}" for k, v in done.items()))
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    from gateway.services.broker.mosquitto import BrokerFiles, configure_central, configure_site
    from gateway.services.security.pki import CertificateAuthority

    config = load_config(args)
    accounts = open_store(args).devices.broker_accounts()
    ca = CertificateAuthority(args.pki_dir or config.secrets_dir / "pki")
    if args.site:
        if not args.bridge:
            raise ValueError("a site broker needs --bridge mqtts://central-host:8883")
        out = args.out or config.folder / "sites" / args.site / "broker"
        files = configure_site(out, args.site, args.bridge, accounts, ca, port=args.broker_port,
                               bind=args.bind or "0.0.0.0")
    else:
        files = BrokerFiles(config.broker_dir)
        configure_central(files, accounts, ca, port=args.broker_port, bind=args.bind or "127.0.0.1",
                          tls_port=args.tls_port, tls_bind=args.tls_bind, hosts=args.tls_host, replicas=args.replicas)
    print(f"wrote {files.conf}, {files.passwd}, {files.acl}\nstart the broker with: mosquitto -c {files.conf}")
    return 0


def cmd_packs_publish(args: argparse.Namespace) -> int:
    from gateway.services.updates.packs import publish_pack
    from models.settings import open_pack

    config, store = load_config(args), open_store(args)
    pack = publish_pack(store, config.updates_dir, args.folder,
                        lambda name: open_pack(config.models.model_copy(update={"pack": name})), config.quality, "cli")
    print(f"pack {pack.name} version {pack.version} published: {len(pack.files)} files, "
          f"{len(pack.reference)} self-test photos")
    return 0


def cmd_releases_publish(args: argparse.Namespace) -> int:
    from gateway.services.updates.releases import publish_release

    config, store = load_config(args), open_store(args)
    release = publish_release(store, config.updates_dir, args.folder, "cli")
    print(f"FaceGate {release.release} published as release {release.version}: {len(release.files)} files")
    return 0


def _ca(args: argparse.Namespace):
    from gateway.services.security.pki import CertificateAuthority

    return CertificateAuthority(args.pki_dir or load_config(args).secrets_dir / "pki")


def cmd_pki_init(args: argparse.Namespace) -> int:
    print(f"CA certificate: {_ca(args).init(args.name)} (give it to devices and site brokers; keep ca.key secret)")
    return 0


def cmd_pki_issue(args: argparse.Namespace) -> int:
    issued = _ca(args).issue(args.name, "server" if args.server else "client", args.host)
    print(f"{issued.kind} certificate for {issued.name} (serial {issued.serial:x}, until {issued.not_after}):\n"
          f"  {issued.cert}\n  {issued.key} (secret)")
    return 0


def cmd_pki_revoke(args: argparse.Namespace) -> int:
    ca = _ca(args)
    issued = ca.revoke(args.name)
    print(f"revoked {issued.name} (serial {issued.serial:x}); brokers read {ca.crl} when they (re)start")
    return 0


def cmd_pki_list(args: argparse.Namespace) -> int:
    for issued in _ca(args).list():
        state = f"revoked {issued.revoked_at}" if issued.revoked_at else f"valid until {issued.not_after}"
        print(f"{issued.name}\t{issued.kind}\t{issued.serial:x}\t{state}")
    return 0


def gateway_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every command working on the gateway's files takes."""
    p.add_argument("--config", type=Path, help="TOML file with a [gateway] table")
    p.add_argument("--db", help="gateway database: an SQLite file (default var/gateway.db) or a postgresql:// URL")
    p.add_argument("--broker-dir", type=Path, help="generated broker files (default: broker/ beside the database)")
    p.add_argument("--secrets-dir", type=Path, help="the gateway's keys (default: secrets/ beside the database)")
    p.add_argument("--trust-dir", type=Path,
                   help="the CSCA certificates chip ID cards are checked against (default: trust/ beside the database)")
    return p


def register(sub: argparse._SubParsersAction) -> None:
    common = gateway_options

    gateway = sub.add_parser("gateway", help="run the central gateway").add_subparsers(dest="cmd", required=True)
    run = common(gateway.add_parser("run", help="serve the API and ingest events from the broker"))
    run.add_argument("--mqtt", help="broker URL, mqtt://host:port (login from --broker-dir unless given)")
    run.add_argument("--no-ingest", action="store_true", help="API only")
    run.add_argument("--embedded-broker", action="store_true",
                     help="run an in-process MQTT broker (demo; production uses Mosquitto)")
    run.add_argument("--broker-port", type=int, help="port of the embedded broker (default 1883)")
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8080)")
    run.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (and --tls-key)")
    run.add_argument("--tls-key", type=Path, help="the certificate's key")
    run.add_argument("--trusted-proxy", action="append", help="a reverse proxy's address whose X-Forwarded-For "
                                                              "and -Proto headers to believe (repeat)")
    run.add_argument("--replica", help="this gateway's name among several sharing one PostgreSQL database "
                                       "(shared ingest, one runs the background jobs)")
    run.add_argument("--adopt-database", action="store_true",
                     help="accept a database that does not reach the audit head this gateway last signed "
                          "(restored from a backup); recorded in the audit log")
    run.set_defaults(func=cmd_gateway_run)

    user = sub.add_parser("user", help="gateway users").add_subparsers(dest="cmd", required=True)
    add = common(user.add_parser("add", help="add a user (password from a prompt, FACEGATE_PASSWORD or stdin)"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("admin", "supervisor", "operator", "auditor", "kiosk"))
    add.add_argument("--device", help="a kiosk login's kiosk device (role kiosk only)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    add.set_defaults(func=cmd_user_add)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="cmd", required=True)
    verify = common(audit.add_parser("verify", help="recompute the hash chain and compare it with the signed anchor; "
                                                    "exit 1 and name the first broken link"))
    verify.set_defaults(func=cmd_audit_verify)

    retention = sub.add_parser("retention", help="data retention").add_subparsers(dest="cmd", required=True)
    once = common(retention.add_parser("run", help="expire consents and delete data past retention, now"))
    once.set_defaults(func=cmd_retention_run)

    broker = sub.add_parser("broker", help="the MQTT broker's files").add_subparsers(dest="cmd", required=True)
    conf = common(broker.add_parser("config", help="write mosquitto.conf, password file and ACL from the registry"))
    conf.add_argument("--broker-port", type=int, default=1883, help="the password listener's port")
    conf.add_argument("--bind", help="its address (default 127.0.0.1; a site broker's 0.0.0.0)")
    conf.add_argument("--tls-port", type=int, help="also take clients by certificate (mTLS) on this port, "
                                                    "usually 8883: site bridges, devices holding one")
    conf.add_argument("--tls-bind", default="0.0.0.0", help="the certificate listener's address")
    conf.add_argument("--tls-host", action="append", help="a name or address clients reach the broker by "
                                                           "(its certificate names each; repeat)")
    conf.add_argument("--replica", dest="replicas", action="append", default=[],
                      help="a gateway replica's name: give it a broker login of its own (repeat; once is enough)")
    conf.add_argument("--site", help="write a site broker's files instead: its devices, and a bridge to the centre")
    conf.add_argument("--bridge", help="with --site: the central broker, mqtts://host:8883")
    conf.add_argument("--out", type=Path, help="with --site: its folder (default sites/<site>/broker)")
    conf.add_argument("--pki-dir", type=Path, help="the FaceGate CA (default: pki/ in the secrets folder)")
    conf.set_defaults(func=cmd_broker_config)

    packs = sub.add_parser("packs", help="model packs for devices to fetch").add_subparsers(dest="cmd", required=True)
    publish = common(packs.add_parser("publish", help="check a pack folder (manifest.toml, its files, reference/ "
                                                      "face photos) and publish it as the pack's next version"))
    publish.add_argument("folder", type=Path)
    publish.set_defaults(func=cmd_packs_publish)

    releases = sub.add_parser("releases", help="FaceGate releases for devices to install").add_subparsers(
        dest="cmd", required=True)
    publish = common(releases.add_parser("publish", help="check a release folder (FaceGate's wheel, requirements.lock "
                                                         "pinned by hash, the wheels it needs) and publish it"))
    publish.add_argument("folder", type=Path)
    publish.set_defaults(func=cmd_releases_publish)

    pki = sub.add_parser("pki", help="the FaceGate certificate authority (TLS)").add_subparsers(dest="cmd",
                                                                                                 required=True)
    init = common(pki.add_parser("init", help="create the CA (once)"))
    init.add_argument("--name", default="FaceGate CA")
    issue = common(pki.add_parser("issue", help="a key and certificate for a broker (--server) or a bridge or "
                                                "device (--client; its name is its identity)"))
    issue.add_argument("name")
    kind = issue.add_mutually_exclusive_group(required=True)
    kind.add_argument("--server", action="store_true")
    kind.add_argument("--client", action="store_true")
    issue.add_argument("--host", action="append", help="with --server: a name or address it is reached by")
    revoke = common(pki.add_parser("revoke", help="revoke a certificate (rewrites crl.pem)"))
    revoke.add_argument("name")
    listing = common(pki.add_parser("list", help="what was issued, and what is revoked"))
    for p, func in ((init, cmd_pki_init), (issue, cmd_pki_issue), (revoke, cmd_pki_revoke), (listing, cmd_pki_list)):
        p.add_argument("--pki-dir", type=Path, help="the CA's folder (default: pki/ in the secrets folder)")
        p.set_defaults(func=func)
