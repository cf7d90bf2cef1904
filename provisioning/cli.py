"""Provisioning commands of `facegate`: provision device, provision revoke."""

from __future__ import annotations

import argparse
from pathlib import Path


def _parts(args: argparse.Namespace):
    from gateway.config import load_gateway_config
    from gateway.storage import Storage
    from provisioning.broker import BrokerFiles

    config = load_gateway_config(args.config, db=args.db, broker_dir=args.broker_dir)
    files = BrokerFiles(config.broker_dir)
    if not files.gateway_login.exists():
        files.init()
    return Storage(config.db), files


def cmd_provision_device(args: argparse.Namespace) -> int:
    from edge.bundle import write_bundle
    from provisioning.devices import provision_device

    storage, files = _parts(args)
    bundle = provision_device(storage, files, site=args.site, device=args.name, kind=args.kind,
                              broker_url=args.broker_url, actor="cli")
    out = Path(args.out or f"var/devices/{bundle.device}.toml")
    write_bundle(bundle, out)
    print(f"device {bundle.device} ({bundle.kind}, site {bundle.site}) registered; bundle written to {out}\n"
          f"run it with: facegate edge run --bundle {out} --source ... --gallery ...")
    return 0


def cmd_provision_revoke(args: argparse.Namespace) -> int:
    from provisioning.devices import revoke_device

    storage, files = _parts(args)
    revoke_device(storage, files, args.device, actor="cli")
    print(f"device {args.device} revoked: removed from the broker, its events refused")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateway.cli import gateway_options as common

    provision = sub.add_parser("provision", help="bring devices into service").add_subparsers(dest="cmd", required=True)
    device = common(provision.add_parser("device", help="create a device identity and its bundle"))
    device.add_argument("--site", required=True)
    device.add_argument("--name", required=True, help="device id, e.g. gate-01 (a-z, 0-9, '-', '_')")
    device.add_argument("--kind", choices=("gate", "exam"), default="gate")
    device.add_argument("--broker-url", default="mqtt://127.0.0.1:1883", help="how the device reaches the broker")
    device.add_argument("--out", help="bundle file to write (default var/devices/<name>.toml)")
    device.set_defaults(func=cmd_provision_device)
    revoke = common(provision.add_parser("revoke", help="shut a device out of the broker and the gateway"))
    revoke.add_argument("device")
    revoke.set_defaults(func=cmd_provision_revoke)
