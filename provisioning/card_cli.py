"""`facegate card`: read a chip ID card on a reader and check it; install and list the trusted CSCAs.

Each parses its arguments and calls gateway/services/people/cards.py; what it prints is the read, never kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
from pathlib import Path


def _date(yymmdd: str, future: bool) -> str:
    """dd/mm/yyyy of an MRZ date: an expiry lies within 50 years ahead, a birth date in the past."""
    from emrtd.checks.passive import expiry_date

    today = dt.date.today()
    if future:
        return f"{expiry_date(yymmdd, today):%d/%m/%Y}"
    year = 2000 + int(yymmdd[:2])
    year -= 100 if year > today.year else 0
    return f"{yymmdd[4:6]}/{yymmdd[2:4]}/{year}"


def _mrz(text: str) -> tuple[str, str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError("--mrz takes DOCUMENT,BIRTH,EXPIRY (birth and expiry as YYMMDD), e.g. 203001344,900315,351231")
    return parts[0], parts[1], parts[2]


def _summary(read) -> dict:
    m, p, s = read.mrz, read.passive, read.stats
    return {"document": {"type": m.document_type, "issuing_state": m.issuing_state, "number": m.document_number,
                         "card_number": m.card_number, "expiry": _date(m.expiry, True)},
            "holder": {"name": read.name, "mrz_name": m.name, "surname": m.surname, "given_names": m.given_names,
                       "sex": m.sex, "birth": _date(m.birth, False), "nationality": m.nationality},
            "portraits": [{"type": f.image_type, "width": f.width, "height": f.height, "bytes": len(f.data)}
                          for f in read.faces],
            "data_groups": list(read.data_groups),
            "outcome": read.outcome,
            "access": read.protocol,
            "clone_checks": {"chip_authentication": read.clone.chip, "active_authentication": read.clone.active,
                             "problems": list(read.clone.problems)},
            "notes": list(read.notes),
            "passive_authentication": {"outcome": p.outcome, "problems": list(p.problems),
                                       "hash_algorithm": p.hash_algorithm, "groups_checked": list(p.groups_checked),
                                       "signer": p.signer, "issuer": p.issuer},
            "link": {"apdus": s.apdus, "bytes_sent": s.sent, "bytes_received": s.received, "retries": s.retries}}


def _print_read(summary: dict) -> None:
    d, h, p, link = summary["document"], summary["holder"], summary["passive_authentication"], summary["link"]
    print(f"document     {d['type']} {d['issuing_state']} {d['number']} (card number {d['card_number']}), "
          f"expires {d['expiry']}")
    print(f"holder       {h['name']}, born {h['birth']}, sex {h['sex']}, nationality {h['nationality']}")
    for face in summary["portraits"]:
        print(f"portrait     {face['type']} {face['width']}x{face['height']}, {face['bytes']} bytes")
    print(f"outcome      {summary['outcome']} (opened with {summary['access']})")
    print(f"passive authentication: {p['outcome']}")
    for problem in p["problems"]:
        print(f"  - {problem}")
    checked = ", ".join(f"DG{n}" for n in p["groups_checked"])
    print(f"  hashes checked ({p['hash_algorithm']}): {checked or 'none'}; signer {p['signer'] or '?'}; "
          f"trusted issuer {p['issuer'] or 'none'}")
    clone = summary["clone_checks"]
    print(f"clone checks: chip authentication {clone['chip_authentication']}, active authentication "
          f"{clone['active_authentication']}")
    for problem in clone["problems"]:
        print(f"  - {problem}")
    for note in summary["notes"]:
        print(f"note         {note}")
    print(f"link         {link['apdus']} APDUs, {link['bytes_sent']} bytes sent, {link['bytes_received']} received, "
          f"{link['retries']} chunk(s) read again")


def cmd_card_read(args: argparse.Namespace) -> int:
    from emrtd.checks.trust import TrustStore
    from emrtd.link.pcsc import PcscTransport
    from gateway.cli import load_config
    from gateway.services.people.cards import read_and_record
    from provisioning.cli import _parts

    document, birth, expiry = _mrz(args.mrz)
    transport = PcscTransport(args.reader)
    store, _, secrets = _parts(args)
    read = read_and_record(store, secrets, TrustStore(load_config(args).trust_dir), transport, document, birth,
                           expiry, actor=f"cli:{args.recorded_by}", place=f"reader {args.reader} ({transport.name})")
    summary = _summary(read)
    if args.portrait:
        fd = os.open(args.portrait, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a face: the owner's alone
        with os.fdopen(fd, "wb") as out:
            out.write(read.faces[0].data)
        summary["portrait_file"] = args.portrait
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_read(summary)
    return 0 if read.outcome == "genuine" else 1


def cmd_card_trust_add(args: argparse.Namespace) -> int:
    from emrtd.checks.trust import TrustStore
    from gateway.cli import load_config
    from gateway.services.people.cards import add_trusted, describe
    from provisioning.cli import _parts

    store, _, _ = _parts(args)
    trust = TrustStore(load_config(args).trust_dir)
    for path in args.files:
        added = add_trusted(store, trust, Path(path).read_bytes(), Path(path).name, actor=f"cli:{args.recorded_by}")
        for certificate in added:
            d = describe(certificate)
            print(f"trusted {d['subject']} (until {d['not_after']}, sha256 {d['sha256'][:16]}...) from {path}")
        if not added:
            print(f"{path}: every certificate in it was already trusted")
    return 0


def cmd_card_trust_list(args: argparse.Namespace) -> int:
    from emrtd.checks.trust import TrustStore
    from gateway.cli import load_config
    from gateway.services.people.cards import describe

    trust = TrustStore(load_config(args).trust_dir)
    certificates = trust.certificates()
    for certificate in certificates:
        d = describe(certificate)
        print(f"{d['subject']}\tuntil {d['not_after']}\tsha256 {d['sha256'][:16]}...")
    if not certificates:
        print(f"no trusted CSCA in {trust.folder}: every card reads untrusted_issuer (facegate card trust add FILE)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from gateway.cli import gateway_options as common

    card = sub.add_parser("card", help="chip ID cards (CCCD): read one, trust a country's signing CA")
    cards = card.add_subparsers(dest="cmd", required=True)
    read = common(cards.add_parser("read", help="read and check the card on a PC/SC reader (audited)"))
    read.add_argument("--reader", type=int, default=0, help="which PC/SC reader (default 0, the first)")
    read.add_argument("--mrz", required=True, metavar="DOC,BIRTH,EXPIRY",
                      help="the card's access details: document number, birth date and expiry date (YYMMDD)")
    read.add_argument("--json", action="store_true", help="print the read as JSON")
    read.add_argument("--portrait", metavar="FILE", help="also write the chip's portrait (as stored) to FILE")
    read.add_argument("--recorded-by", default=getpass.getuser(), help="who read the card (the audit names them)")
    read.set_defaults(func=cmd_card_read)
    trust = cards.add_parser("trust", help="the Country Signing CAs cards are checked against")
    trusts = trust.add_subparsers(dest="trust_cmd", required=True)
    add = common(trusts.add_parser("add", help="trust a CSCA certificate (PEM/DER) or every CSCA of an ICAO master list"))
    add.add_argument("files", nargs="+", metavar="CERT|MASTERLIST")
    add.add_argument("--recorded-by", default=getpass.getuser())
    add.set_defaults(func=cmd_card_trust_add)
    listed = common(trusts.add_parser("list", help="the trusted CSCAs"))
    listed.set_defaults(func=cmd_card_trust_list)
