"""The admin's commands for bringing devices and people in: provision, site, enrol, consent, erasures.

Each parses its arguments and calls a gateway service (gateway/services); nothing more.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from wire.names import DEVICE_KINDS, PURPOSES


def _parts(args: argparse.Namespace):
    from gateway.cli import load_config, open_store
    from gateway.services.broker.mosquitto import BrokerFiles
    from gateway.services.security.secrets import GatewaySecrets

    config = load_config(args)
    files = BrokerFiles(config.broker_dir)
    if not files.gateway_login.exists():
        files.init()
    return open_store(args), files, GatewaySecrets(config.secrets_dir)


def _ca(args: argparse.Namespace):
    from gateway.cli import load_config
    from gateway.services.security.pki import CertificateAuthority

    return CertificateAuthority(load_config(args).secrets_dir / "pki")


def cmd_provision_device(args: argparse.Namespace) -> int:
    from gateway.services.devices.registry import provision_device
    from wire.bundle import write_bundle

    store, files, secrets = _parts(args)
    bundle = provision_device(store, files, secrets, site=args.site, device=args.name, kind=args.kind,
                              broker_url=args.broker_url, actor="cli", ca=_ca(args),
                              client_certificate=args.client_certificate)
    out = Path(args.out or f"var/devices/{bundle.device}.toml")
    write_bundle(bundle, out)
    print(f"device {bundle.device} ({bundle.kind}, site {bundle.site}) registered; bundle written to {out}\n"
          f"run it with: facegate edge run --bundle {out} --source ... --gallery ...")
    return 0


def cmd_provision_revoke(args: argparse.Namespace) -> int:
    from gateway.services.devices.registry import revoke_device

    store, files, _ = _parts(args)
    revoke_device(store, files, args.device, actor="cli", ca=_ca(args))
    print(f"device {args.device} revoked: removed from the broker (and its certificate revoked), its events refused")
    return 0


def cmd_site_add(args: argparse.Namespace) -> int:
    from gateway.services.devices.registry import add_site

    store, _, _ = _parts(args)
    add_site(store, args.site, args.name, actor="cli")
    print(f"site {args.site} added")
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    from gateway.cli import load_config
    from gateway.services.people.enrolment import Enroller, EnrolmentRequest, open_packs, packs_in_use, requests_from

    store, _, secrets = _parts(args)
    config = load_config(args)
    defaults = EnrolmentRequest(source="", subject=args.subject or "", display_name=args.display_name,
                                id_card=args.id_card, purpose=args.purpose,
                                sites=[s.strip() for s in args.sites.split(",") if s.strip()],
                                notice_version=args.notice, channel=args.channel, expires_at=args.expires)
    requests = list(requests_from(Path(args.path), defaults))
    enroller = Enroller(store, secrets, open_packs(packs_in_use(store), config.models), config.quality,
                        actor=f"cli:{args.recorded_by}")
    enrolled = 0
    for n, request in enumerate(requests, start=1):
        result = enroller.enrol(request)
        enrolled += result.enrolled
        print(result.line(), flush=True)
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{n}/{len(requests)} ({enrolled} enrolled)")
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"{enrolled} of {len(requests)} enrolled, {len(requests) - enrolled} rejected; devices receive the change "
          f"from the running gateway within seconds")
    return 0 if enrolled == len(requests) else 1


def cmd_consent_withdraw(args: argparse.Namespace) -> int:
    from gateway.services.people.consent import withdraw

    store, _, _ = _parts(args)
    erasure = withdraw(store, args.subject, args.purpose, actor=f"cli:{args.recorded_by}")
    print(f"consent of {args.subject} withdrawn" + (f"; erasure {erasure} open until every device confirms"
                                                    if erasure else "; no device held them"))
    return 0


def cmd_consent_add(args: argparse.Namespace) -> int:
    from gateway.services.people.consent import grant

    store, _, _ = _parts(args)
    consent = grant(store, args.subject, args.purpose, [s.strip() for s in args.sites.split(",") if s.strip()],
                    args.notice, args.channel, args.expires, actor=f"cli:{args.recorded_by}")
    print(f"consent {consent} recorded for {args.subject} ({args.purpose} at {args.sites})")
    return 0


def cmd_erasures(args: argparse.Namespace) -> int:
    store, _, _ = _parts(args)
    rows = store.galleries.erasures(outstanding_only=not args.all)
    for e in rows:
        waiting = [d for d, v in e.devices.items() if not v["confirmed_at"]]
        state = "complete " + e.completed_at if e.completed_at else "waiting for " + ", ".join(waiting)
        print(f"{e.id}\t{e.subject}\t{e.reason}\t{e.requested_at}\t{state}")
    if not rows:
        print("no outstanding erasures" if not args.all else "no erasures")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateway.cli import gateway_options as common

    provision = sub.add_parser("provision", help="bring devices into service").add_subparsers(dest="cmd", required=True)
    device = common(provision.add_parser("device", help="create a device identity and its bundle"))
    device.add_argument("--site", required=True)
    device.add_argument("--name", required=True, help="device id, e.g. gate-01 (a-z, 0-9, '-', '_')")
    device.add_argument("--kind", choices=DEVICE_KINDS, default="gate")
    device.add_argument("--broker-url", default="mqtt://127.0.0.1:1883",
                        help="how the device reaches the broker: mqtt://site-broker:1883 on its LAN, or "
                             "mqtts://host:8883 across a network (the bundle carries the FaceGate CA)")
    device.add_argument("--client-certificate", action="store_true",
                        help="give the device its own certificate (mTLS; CN = its name) for a certificate listener")
    device.add_argument("--out", help="bundle file to write (default var/devices/<name>.toml)")
    device.set_defaults(func=cmd_provision_device)
    revoke = common(provision.add_parser("revoke", help="shut a device out of the broker and the gateway"))
    revoke.add_argument("device")
    revoke.set_defaults(func=cmd_provision_revoke)

    site = sub.add_parser("site", help="sites").add_subparsers(dest="cmd", required=True)
    add = common(site.add_parser("add", help="add a site"))
    add.add_argument("site", help="site id (a-z, 0-9, '-', '_')")
    add.add_argument("--name", help="display name")
    add.set_defaults(func=cmd_site_add)

    enrol = common(sub.add_parser("enrol", help="enrol consented people from a photo, a folder or a CSV manifest"))
    enrol.add_argument("path", help="photo, folder (file or sub-folder name = subject) or CSV "
                                    "(photo,subject,display_name,id_card,purpose,sites,notice_version,channel,expires_at)")
    enrol.add_argument("--subject", help="subject id for a single photo (default: the file name)")
    enrol.add_argument("--display-name")
    enrol.add_argument("--id-card", help="ID-card number (stored only as a keyed hash)")
    enrol.add_argument("--purpose", choices=PURPOSES, default="gate")
    enrol.add_argument("--sites", default="*", help="comma-separated site ids the consent covers ('*': all)")
    enrol.add_argument("--notice", default="v1", help="version of the privacy notice the person was shown")
    enrol.add_argument("--channel", default="counter", help="how consent was given (counter, kiosk, online...)")
    enrol.add_argument("--expires", help="consent end, ISO 8601")
    enrol.add_argument("--recorded-by", default=getpass.getuser(), help="who took the consent")
    enrol.set_defaults(func=cmd_enrol)

    consent = sub.add_parser("consent", help="consents").add_subparsers(dest="cmd", required=True)
    grant = common(consent.add_parser("add", help="record another consent for an enrolled subject"))
    grant.add_argument("subject")
    grant.add_argument("--purpose", choices=PURPOSES, required=True)
    grant.add_argument("--sites", default="*")
    grant.add_argument("--notice", default="v1")
    grant.add_argument("--channel", default="counter")
    grant.add_argument("--expires", help="consent end, ISO 8601 UTC")
    grant.add_argument("--recorded-by", default=getpass.getuser())
    grant.set_defaults(func=cmd_consent_add)
    wd = common(consent.add_parser("withdraw", help="withdraw a subject's consent; erases them from devices"))
    wd.add_argument("subject")
    wd.add_argument("--purpose", choices=PURPOSES, help="only this purpose (default: all)")
    wd.add_argument("--recorded-by", default=getpass.getuser())
    wd.set_defaults(func=cmd_consent_withdraw)

    erasures = common(sub.add_parser("erasures", help="erasures still waiting for devices (--all: every one)"))
    erasures.add_argument("--all", action="store_true")
    erasures.set_defaults(func=cmd_erasures)
