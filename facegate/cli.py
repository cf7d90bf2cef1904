"""The `facegate` command: each side registers its own sub-commands; this file only assembles them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("facegate")


def cmd_demo(args: argparse.Namespace) -> int:
    if args.edge_only:
        from edge.node.demo import run_demo

        return run_demo(Path(args.workdir or "var/demo"), realtime=not args.fast)
    if args.scale:
        from facegate.scale_demo import run_scale_demo

        return run_scale_demo(Path(args.workdir or "var/demo-scale"), exit_when_stored=5 if args.exit else None)
    from facegate.demo import run_system_demo

    return run_system_demo(Path(args.workdir or "var/demo"), realtime=not args.fast, keep_serving=not args.exit)


def build_parser() -> argparse.ArgumentParser:
    from edge.cli import register as register_edge
    from gateway.cli import register as register_gateway
    from provisioning.card_cli import register as register_card
    from provisioning.cli import register as register_provisioning

    parser = argparse.ArgumentParser(prog="facegate", description="FaceGate: edge face verification for gates and exams.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=("text", "json"), default=os.environ.get("FACEGATE_LOG_FORMAT", "text"),
                        help="log lines as text, or as JSON objects for a log shipper (env FACEGATE_LOG_FORMAT)")
    sub = parser.add_subparsers(dest="area", required=True)
    register_edge(sub)
    register_gateway(sub)
    register_provisioning(sub)
    register_card(sub)

    demo = sub.add_parser("demo", help="the whole system on a generated stream of sample faces (embedded broker)")
    demo.add_argument("--workdir", help="where the demo keeps its state (default var/demo, var/demo-scale)")
    demo.add_argument("--fast", action="store_true", help="process as fast as possible instead of real time")
    demo.add_argument("--exit", action="store_true", help="stop once the stream ends instead of serving the API")
    demo.add_argument("--edge-only", action="store_true", help="only the edge loop, verdicts printed (no gateway)")
    demo.add_argument("--scale", action="store_true",
                      help="the scaled-out topology: PostgreSQL, two gateway replicas, two sites with their own "
                           "brokers bridged over TLS (needs mosquitto and postgresql-15)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from emrtd.link.apdu import CardError
    from facegate.postgres import PostgresUnavailable
    from gateway.errors import GatewayError
    from gateway.services.security.audit import AnchorMismatch
    from gateway.storage import SchemaTooNew
    from models import ModelFileError
    from wire.redact import redact

    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    if args.log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    if not args.verbose:  # a line per door controller request: the door's own events say what matters
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (ModelFileError, GatewayError, AnchorMismatch, SchemaTooNew, PostgresUnavailable, FileNotFoundError,
            NotADirectoryError, ValueError, CardError) as exc:
        log.error("%s", redact(str(exc)))  # a configuration error may quote a camera's or a door's URL
        return 2


if __name__ == "__main__":
    sys.exit(main())
