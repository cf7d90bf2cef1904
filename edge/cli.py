"""Edge commands of `facegate`: edge run/flush, exam run, gallery build, eval, models."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from edge.link.config_sync import starting_config
from edge.link.event_link import EventLink
from edge.node.exam_node import Session, build_exam
from edge.node.gate_node import build_gate
from edge.node.kiosk_node import build_kiosk
from edge.node.managed import ManagedGate
from edge.node.packs import open_pack
from edge.node.runner import StatusLine, print_json_line
from edge.settings import EdgeConfig, load_config
from edge.updates.launcher import launch
from edge.vision.gallery import GalleryStore
from edge.vision.liveness import LivenessChecker
from emrtd.link.apdu import CardError
from wire.bundle import DeviceBundle, load_bundle

log = logging.getLogger("facegate")


def _config(args: argparse.Namespace, document: dict | None = None) -> EdgeConfig:
    """The settings: the gateway's `document` if given, else the `--config` file; the environment and `--pack`
    on top."""
    config = load_config(args.config, document)
    if getattr(args, "pack", None):
        config.models.pack = args.pack
    return config


def _bundle(args: argparse.Namespace) -> DeviceBundle | None:
    return load_bundle(Path(args.bundle)) if getattr(args, "bundle", None) else None


def cmd_edge_run(args: argparse.Namespace) -> int:
    gallery, bundle = Path(args.gallery) if args.gallery else None, _bundle(args)
    if bundle is None:
        node = build_gate(_config(args), args.source, gallery=gallery, realtime=args.realtime)
    else:  # the gateway's configuration, as it changes
        node = ManagedGate(lambda document: _config(args, document), args.source, bundle, gallery=gallery,
                           mqtt=args.mqtt, realtime=args.realtime)
    try:
        summary = node.run(print_json_line, max_frames=args.max_frames, status=StatusLine())
    finally:
        node.close()
    if getattr(node, "exit_code", None) is not None:  # switched releases: the launcher starts the new one
        return node.exit_code
    return node.log_summary(summary)


def cmd_edge_launch(args: argparse.Namespace) -> int:
    """Run the device's FaceGate release under the launcher (releases over the air, edge/updates/launcher.py)."""
    args_after = args.args[1:] if args.args[:1] == ["--"] else args.args
    return launch(Path(args.home), args_after, args.health_timeout)


def cmd_edge_flush(args: argparse.Namespace) -> int:
    """Send what the outbox holds, without a camera (after a crash, or before taking a device away)."""
    link = EventLink.open(_bundle(args), _config(args), None, args.mqtt)
    left = link.close(args.timeout)
    print(f"{link.publisher.confirmed} events sent and confirmed; {left} left in {link.outbox.path}")
    return 0 if left == 0 else 1


def cmd_exam_run(args: argparse.Namespace) -> int:
    bundle = _bundle(args)
    # One session a process: a configuration from the gateway is kept for the next start (ExamDevice.close).
    config = starting_config(bundle, lambda document: _config(args, document)) if bundle else _config(args)
    device = build_exam(config, bundle, args.mqtt)
    given = Session(args.candidate, args.session or "", args.exam_type, args.stage, args.seat) if args.candidate \
        else None  # else the session the gateway sends
    try:
        result = device.run_session(args.source, given, card=args.card, wait_s=args.wait, realtime=args.realtime)
    except (ValueError, CardError) as exc:  # the session could not start: the gateway has been told why
        log.error("%s", exc)
        return 2
    finally:
        left = device.close()
    if result is None:
        log.error("no exam session from the gateway within %.0fs", args.wait)
        return 1
    flags = ", ".join(f"{f.kind} {f.start:%H:%M:%S}-{f.end:%H:%M:%S}" if f.end else f.kind for f in result.flags)
    print(f"session {result.session}: check-in {result.checkin} (score {result.checkin_score}); "
          f"{len(result.checks)} checks; flags: {flags or 'none'}; {left} events wait in the outbox")
    return 0 if result.checkin == "passed" else 1


def cmd_kiosk_run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    build_kiosk(_config(args), _bundle(args), args.source, args.mqtt).serve(stop)
    return 0


def cmd_gallery_build(args: argparse.Namespace) -> int:
    from edge.vision.enrolment import build_gallery

    config = _config(args)
    pack = open_pack(config)
    out = Path(args.out)
    store = GalleryStore(out)
    results = build_gallery(Path(args.folder), store, pack, config.quality, on_result=lambda r: print(r.line()))
    enrolled = sum(r.enrolled for r in results)
    print(f"{enrolled} of {len(results)} photos enrolled ({len(results) - enrolled} rejected) "
          f"into {out} for pack {pack.name}; {len(store.subjects())} subjects in the gallery")
    return 0 if enrolled else 1


def cmd_eval_pairs(args: argparse.Namespace) -> int:
    from edge.eval.pairs import embed_image, pair_metrics, pair_scores, read_pairs

    config = _config(args)
    pack = open_pack(config)
    pairs_path = Path(args.pairs)
    pairs = read_pairs(pairs_path)
    root = Path(args.root) if args.root else pairs_path.parent

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 25 == 0 or done == total):
            sys.stderr.write(f"\rembedding images {done}/{total}")
            if done == total:
                sys.stderr.write("\n")

    scores, no_face = pair_scores(pairs, lambda p: embed_image(p, pack), root, progress)
    metrics = pair_metrics(scores, [p.same for p in pairs], no_face)
    metrics["model_pack"] = pack.name
    metrics["detector_max_side"] = config.models.detector_max_side
    if args.json:
        print(json.dumps(metrics))
        return 0
    acc = metrics["accuracy_10fold"]
    print(f"pairs {metrics['pairs']} ({metrics['same_pairs']} same, {metrics['different_pairs']} different); "
          f"images without a face: {no_face}")
    print(f"10-fold accuracy {acc['mean']:.4f} ± {acc['std']:.4f}   AUC {metrics['auc']:.5f}   pack {pack.name}")
    for far, tar in metrics["tar_at_far"].items():
        thr = metrics["thresholds"][f"far_{far}"]
        print(f"  TAR @ FAR {far:>6}: " + ("n/a (too few different-person pairs)" if tar is None
                                         else f"{tar:.4f}  (threshold {thr:.4f})"))
    return 0


def cmd_eval_pad(args: argparse.Namespace) -> int:
    from edge.eval.pad import live_score, pad_metrics, read_labels

    config = _config(args)
    pack = open_pack(config)
    liveness = LivenessChecker.open(config)
    if liveness is None:
        raise ValueError("no liveness model: `facegate models fetch minifasnet` (or add its folder to "
                         "models.search_paths), then `facegate models prepare`")
    presentations = read_labels(Path(args.labels))
    threshold = liveness.threshold if args.threshold is None else args.threshold

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rscoring {done}/{total}" + ("\n" if done == total else ""))

    metrics = pad_metrics(presentations, lambda p: live_score(p, pack, liveness), threshold, progress)
    metrics["model"] = liveness.spec.name
    if args.json:
        print(json.dumps(metrics))
        return 0
    print(f"{len(presentations)} presentations, threshold {threshold} (live score = mean real-face probability)")
    print("| presentation | count | no face | error |")
    print("|---|---|---|---|")
    for kind, rate in metrics["apcer"].items():
        shown = "n/a" if rate is None else f"APCER {rate:.4f}"
        print(f"| {kind} | {metrics['presentations'][kind]} | {metrics['no_face'].get(kind, 0)} | {shown} |")
    if "bona fide" in metrics["presentations"]:
        shown = "n/a" if metrics["bpcer"] is None else f"BPCER {metrics['bpcer']:.4f}"
        print(f"| bona fide | {metrics['presentations']['bona fide']} | {metrics['no_face'].get('bona fide', 0)} "
              f"| {shown} |")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from models import load_manifest
    from models.manifest import ModelFileError, resolve_file

    config = _config(args)
    manifest = load_manifest()
    failed = 0
    for name in [args.pack] if args.pack else sorted(manifest.packs) + sorted(manifest.pad):
        for spec in manifest.files_of(name):
            try:
                path = resolve_file(spec, config.models.search_dirs())
                print(f"{name}\t{spec.filename}\tok\t{path}")
            except ModelFileError as exc:
                failed += 1
                print(f"{name}\t{spec.filename}\tMISSING OR ALTERED\t{exc}")
    return 1 if failed else 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    """Convert the liveness weights to ONNX once (no torch needed); later runs use the cached files."""
    from models import load_manifest
    from models.manifest import ModelFileError
    from models.pad.minifasnet import prepare

    config = _config(args)
    failed = 0
    for name, spec in load_manifest().pad.items():
        for file, scale in spec.models:
            try:
                path = prepare(file, config.models.search_dirs(), config.models.dir / "prepared")
                print(f"{name}\t{file.filename}\tprepared\t{path}")
            except ModelFileError as exc:
                failed += 1
                print(f"{name}\t{file.filename}\tMISSING OR ALTERED\t{exc}")
    return 1 if failed else 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from models import load_manifest
    from models.fetch import fetch_file

    config = _config(args)
    for spec in load_manifest().files_of(args.name):
        print(f"{spec.filename}: {fetch_file(spec, config.models.dir)}")
    return 0


def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every command running models takes."""
    p.add_argument("--config", type=Path, help="TOML configuration file (see docs/operations.md)")
    p.add_argument("--pack", help="model pack (default from config: buffalo_s)")
    return p


def register(sub: argparse._SubParsersAction) -> None:
    edge = sub.add_parser("edge", help="run an edge node").add_subparsers(dest="cmd", required=True)
    run = with_config(edge.add_parser("run", help="match faces on a camera stream; one JSON line per verdict"))
    run.add_argument("--source", action="append", help="video file, rtsp://|http:// URL, or USB camera index; "
                     "repeat it for several cameras (lanes 1, 2, ... or the [[cameras]] of --config, in order)")
    run.add_argument("--gallery", help="folder of consented photos, or a gallery database "
                                       "(default with --bundle: the gallery the gateway sends)")
    run.add_argument("--max-frames", type=int, help="stop after this many frames")
    run.add_argument("--realtime", action="store_true", help="play a file at its own speed (newest frame wins)")
    run.add_argument("--bundle", help="device bundle (facegate provision device): publish signed events over MQTT")
    run.add_argument("--mqtt", help="broker URL overriding the bundle's, mqtt://host:port")
    run.set_defaults(func=cmd_edge_run)
    launcher = edge.add_parser("launch", help="run this device's FaceGate release, switching releases the gateway "
                                              "sends: facegate edge launch --home DIR -- edge run --bundle ...")
    launcher.add_argument("--home", required=True, help="the releases' folder (made on the first start)")
    launcher.add_argument("--health-timeout", type=float, default=120.0,
                          help="seconds a new release has to come up healthy before the launcher switches back")
    launcher.add_argument("args", nargs=argparse.REMAINDER, help="-- then the facegate command to run")
    launcher.set_defaults(func=cmd_edge_launch)
    flush = with_config(edge.add_parser("flush", help="send the outbox's events to the broker and exit"))
    flush.add_argument("--bundle", required=True)
    flush.add_argument("--mqtt", help="broker URL overriding the bundle's")
    flush.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the broker")
    flush.set_defaults(func=cmd_edge_flush)

    kiosk = sub.add_parser("kiosk", help="a self-enrolment kiosk: chip ID card reader and camera")
    krun = with_config(kiosk.add_subparsers(dest="cmd", required=True).add_parser(
        "run", help="read the cards the gateway's kiosk page asks for and match the live face (reader: [kiosk])"))
    krun.add_argument("--bundle", required=True,
                      help="bundle of a kiosk device (facegate provision device --kind kiosk)")
    krun.add_argument("--source", required=True, help="the kiosk's camera: index, rtsp:// URL or video file")
    krun.add_argument("--mqtt", help="broker URL overriding the bundle's")
    krun.set_defaults(func=cmd_kiosk_run)

    exam = sub.add_parser("exam", help="exam supervision").add_subparsers(dest="cmd", required=True)
    erun = with_config(exam.add_parser("run", help="one exam session: check in the candidate, supervise, report"))
    erun.add_argument("--bundle", required=True, help="bundle of an exam device")
    erun.add_argument("--candidate", help="subject id of the registered candidate (default: wait for a session "
                                          "created at the gateway)")
    erun.add_argument("--wait", type=float, default=600.0, help="seconds to wait for a session from the gateway")
    erun.add_argument("--source", required=True, help="video file, rtsp:// URL or camera index")
    erun.add_argument("--session", help="session id (default: a new one)")
    erun.add_argument("--card", metavar="DOC,BIRTH,EXPIRY",
                      help="check in with the candidate's chip ID card on the [kiosk] reader: the live face must match "
                           "its portrait as well as the enrolled template (both scores are recorded)")
    erun.add_argument("--exam-type", default="theory")
    erun.add_argument("--stage", default="theory")
    erun.add_argument("--seat", help="seat or vehicle")
    erun.add_argument("--mqtt", help="broker URL overriding the bundle's")
    erun.add_argument("--realtime", action="store_true", help="play a file at its own speed")
    erun.set_defaults(func=cmd_exam_run)

    gallery = sub.add_parser("gallery", help="manage the local gallery").add_subparsers(dest="cmd", required=True)
    build = with_config(gallery.add_parser("build", help="enrol a folder of photos (file or sub-folder name = subject)"))
    build.add_argument("folder")
    build.add_argument("--out", required=True, help="gallery database to write (created or extended)")
    build.set_defaults(func=cmd_gallery_build)

    evaluation = sub.add_parser("eval", help="measure accuracy").add_subparsers(dest="cmd", required=True)
    pairs = with_config(evaluation.add_parser("pairs", help="verification accuracy on a pairs CSV (img_a,img_b,same)"))
    pairs.add_argument("pairs")
    pairs.add_argument("--root", help="folder the image paths are relative to (default: the CSV's folder)")
    pairs.add_argument("--json", action="store_true", help="print one JSON object")
    pairs.set_defaults(func=cmd_eval_pairs)
    pad = with_config(evaluation.add_parser("pad", help="liveness: APCER per attack type and BPCER (ISO/IEC 30107-3)"))
    pad.add_argument("labels", help="CSV img,label,attack (label live|spoof), paths relative to the CSV")
    pad.add_argument("--threshold", type=float, help="live-score threshold (default: the model's)")
    pad.add_argument("--json", action="store_true", help="print one JSON object")
    pad.set_defaults(func=cmd_eval_pad)

    models = sub.add_parser("models", help="model packs").add_subparsers(dest="cmd", required=True)
    verify = with_config(models.add_parser("verify", help="check every pack's files against their pinned hashes"))
    verify.set_defaults(func=cmd_models_verify)
    prep = with_config(models.add_parser("prepare", help="convert the liveness weights to ONNX once (cached)"))
    prep.set_defaults(func=cmd_models_prepare)
    fetch = with_config(models.add_parser("fetch", help="download a pack's files from upstream (hash-checked)"))
    fetch.add_argument("name")
    fetch.set_defaults(func=cmd_models_fetch)
