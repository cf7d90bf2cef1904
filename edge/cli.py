"""Edge commands of `facegate`: edge run/flush, exam run, gallery build, eval, models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from edge.vision.camera import Camera
from edge.settings import EdgeConfig, load_config
from edge.vision.gallery import GalleryStore
from wire.bundle import load_bundle
from edge.link.gallery_sync import index_of
from edge.link.event_link import EventLink
from edge.vision.liveness import LivenessChecker
from edge.node.runner import Feed, GalleryError, StatusLine, open_gallery, open_pack, print_json_line, run_node
from emrtd.apdu import CardError

log = logging.getLogger("facegate")


def _config(args: argparse.Namespace) -> EdgeConfig:
    config = load_config(args.config)
    if getattr(args, "pack", None):
        config.models.pack = args.pack
    return config


def cmd_edge_run(args: argparse.Namespace) -> int:
    from edge.vision.pipeline import FacePipeline

    config = _config(args)
    if not args.gallery and not args.bundle:
        raise ValueError("give --gallery (local photos or database), or --bundle to use the gateway's gallery")
    cameras = config.camera_list(args.source)
    pack = open_pack(config, len(cameras))
    link = EventLink.open(load_bundle(Path(args.bundle)), config, pack.name, args.mqtt) if args.bundle else None
    try:
        index = _edge_gallery(args, config, pack, link)
    except (GalleryError, ValueError):
        if link:
            link.close(0)
        raise
    log.info("gallery: %d templates of %d subjects, pack %s", len(index), index.subject_count, pack.name)
    liveness = LivenessChecker.open(config)  # like the pack's sessions, one for every camera
    feeds = [Feed(Camera(c.source, c, realtime=args.realtime), FacePipeline(pack, index, config, liveness, c))
             for c in cameras]
    if link and not args.gallery:
        def use_gallery(new_index) -> None:
            for feed in feeds:
                feed.pipeline.use_gallery(new_index)
        link.on_gallery = use_gallery
        use_gallery(index_of(link.gallery.current))  # in case one arrived since
    gate = _open_gate(config, link, cameras)
    try:
        summary = run_node(feeds, print_json_line, max_frames=args.max_frames, status=StatusLine(),
                           events=link.events if link else None,
                           heartbeat_interval_s=config.events.heartbeat_interval_s, gate=gate)
    finally:
        if gate:
            gate.stop()
        if link:
            link.close(config.events.flush_on_exit_s)
    for feed in feeds:
        stages = "  ".join(f"{k} {v:.1f}ms" for k, v in feed.pipeline.timer.per_frame_ms().items())
        log.info("%s: %d frames, %d verdicts; bad frames %d, dropped %d, detections the motion gate saved %d, "
                 "detections on the sub-stream %d, main frames not converted %d; per frame: %s", feed.id,
                 feed.pipeline.stats.frames, feed.verdicts, feed.camera.stats.bad_frames,
                 feed.camera.stats.frames_dropped, feed.pipeline.stats.static_skipped,
                 feed.pipeline.stats.sub_detected, feed.camera.stats.main_skipped, stages)
    log.info("%d frames in %.1fs (%.1f fps) from %d camera(s), %d verdicts", summary.frames, summary.seconds,
             summary.fps, len(feeds), summary.verdicts)
    failed = {camera: error for camera, error in summary.cameras.items() if error}
    for camera, error in failed.items():
        log.error("camera %s: %s", camera, error)
    return 3 if failed else 0


def _open_gate(config: EdgeConfig, link: EventLink | None, cameras):
    """The doors of `[[doors]]` with their rules, taking operators' commands through the link; None without doors."""
    if not config.doors:
        return None
    from edge.gate.rules import Gate

    bundle = link.gallery.bundle if link else None
    gate = Gate.open(config, link.events if link else None, bundle.device if bundle else None,
                     bundle.gateway_key if bundle else None)
    if link:
        link.on_door = gate.command
    watched = {c.lane: c.id for c in cameras}
    for door in config.doors:
        log.info("lane %d: %s door (%s, fail mode %s), %s", door.lane, door.kind, door.direction, door.fail_mode,
                 f"camera {watched[door.lane]}" if door.lane in watched else "no camera: opened by operators only")
    return gate


def _edge_gallery(args: argparse.Namespace, config: EdgeConfig, pack, link: EventLink | None):
    """The local gallery given with --gallery, or else the one the gateway sends (waiting for a first one)."""
    if args.gallery:
        if link:
            log.info("local gallery %s: gallery updates from the gateway are not applied", args.gallery)
        return open_gallery(Path(args.gallery), pack, config,
                            on_photo=lambda r: None if r.enrolled else log.warning("gallery: %s", r.line()))
    if link.gallery.current is None:
        log.info("no gallery yet: waiting up to %.0fs for the gateway's", config.events.gallery_wait_s)
    if not link.gallery.wait(config.events.gallery_wait_s):
        raise GalleryError(f"no gallery from the gateway within {config.events.gallery_wait_s:.0f}s "
                           f"(is the gateway running, and is {link.outbox.path.parent} writable?)")
    log.info("gateway gallery version %d", link.gallery.version)
    return index_of(link.gallery.current)


def cmd_edge_flush(args: argparse.Namespace) -> int:
    """Send what the outbox holds, without a camera (after a crash, or before taking a device away)."""
    config = _config(args)
    link = EventLink.open(load_bundle(Path(args.bundle)), config, None, args.mqtt)
    left = link.close(args.timeout)
    print(f"{link.publisher.confirmed} events sent and confirmed; {left} left in {link.outbox.path}")
    return 0 if left == 0 else 1


def cmd_exam_run(args: argparse.Namespace) -> int:
    from edge.exam.station import ExamStation
    from edge.exam.report import ExamEvents
    from edge.exam.run import run_exam
    from wire import uuid7
    from wire.events import ExamSessionEvent

    config = _config(args)
    bundle = load_bundle(Path(args.bundle))
    if bundle.kind != "exam":
        raise ValueError(f"device {bundle.device} is a {bundle.kind} device; exam sessions need an exam device")
    pack = open_pack(config)
    link = EventLink.open(bundle, config, pack.name, args.mqtt)
    session = args.session or str(uuid7())
    reporter = ExamEvents(link.events, bundle.gallery_key, link.outbox.path.parent / "evidence",
                          config.exam.evidence_quality, config.exam.evidence_keep_days)
    done_file = reporter.dir.parent / "sessions-done.txt"
    try:
        if not link.gallery.wait(config.events.gallery_wait_s):
            raise GalleryError(f"no gallery from the gateway within {config.events.gallery_wait_s:.0f}s")
        if not args.candidate:  # run the session the gateway sends
            command = _next_session(link, bundle, done_file, args.wait)
            if command is None:
                log.error("no exam session from the gateway within %.0fs", args.wait)
                return 1
            session, args.candidate = command.session, command.candidate
            args.exam_type, args.stage, args.seat = command.exam_type, command.stage, command.seat
            log.info("session %s from the gateway (by %s): candidate %s", session, command.created_by, args.candidate)
        station = ExamStation(pack, config.quality, config.exam, LivenessChecker.open(config))
        try:
            chip = _chip_card(args, config, pack)
            supervisor = station.supervisor(session, args.candidate, index_of(link.gallery.current), reporter,
                                            exam_type=args.exam_type, stage=args.stage, seat=args.seat, chip=chip)
        except (ValueError, CardError) as exc:
            now = datetime.now(timezone.utc)
            link.events.append(ExamSessionEvent, session=session, candidate=args.candidate, exam_type=args.exam_type,
                             stage=args.stage, seat=args.seat, started_at=now, ended_at=now, checkin="refused",
                             reason=str(exc))
            log.error("%s", exc)
            return 2
        camera = Camera(args.source, config.camera, realtime=args.realtime)
        result = run_exam(camera, station, supervisor, live=camera.live)
        with done_file.open("a") as f:
            f.write(session + "\n")
    finally:
        left = link.close(config.events.flush_on_exit_s)
    flags = ", ".join(f"{f.kind} {f.start:%H:%M:%S}-{f.end:%H:%M:%S}" if f.end else f.kind for f in result.flags)
    print(f"session {session}: check-in {result.checkin} (score {result.checkin_score}); "
          f"{len(result.checks)} checks; flags: {flags or 'none'}; {left} events wait in the outbox")
    return 0 if result.checkin == "passed" else 1


def cmd_kiosk_run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from edge.kiosk.kiosk import run_kiosk

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return run_kiosk(Path(args.bundle), _config(args), args.source, args.mqtt, stop)


def _chip_card(args: argparse.Namespace, config: EdgeConfig, pack):
    """The template of the portrait on the chip ID card the candidate presents (--card), or None without one."""
    if not args.card:
        return None
    from emrtd.pcsc import PcscTransport
    from edge.kiosk.kiosk import chip_template, read_chip_card

    read = read_chip_card(PcscTransport(config.kiosk.reader), args.card)
    template = chip_template(read, pack, config.quality)
    if isinstance(template, str):
        raise ValueError(f"the card's portrait cannot be used: {template}")
    log.info("chip card of %s read (%s); check-in matches its portrait too", read.mrz.name, read.passive.outcome)
    return template.embedding


def _next_session(link: EventLink, bundle, done_file: Path, wait_s: float):
    """The next signed session command for this device that has not run yet (None after `wait_s`)."""
    import queue

    from wire.commands import open_session_command

    done = set(done_file.read_text().split()) if done_file.exists() else set()
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            payload = link.sessions.get(timeout=left)
        except queue.Empty:
            return None
        try:
            command = open_session_command(payload, bundle.device, bundle.gateway_key)
        except (ValueError, KeyError) as exc:
            log.error("session command refused: %s", exc)
            continue
        if command.session not in done:
            return command
    return None


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
    names = [args.pack] if args.pack else sorted(manifest.packs) + sorted(manifest.pad)
    failed = 0
    for name in names:
        if name in manifest.pad:
            files = [file for file, _ in manifest.pad[name].models]
        else:
            pack = manifest.pack(name)
            files = [pack.detector, pack.embedder]
        for spec in files:
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
    manifest = load_manifest()
    if args.name in manifest.pad:  # the liveness weights
        files = [file for file, _ in manifest.pad[args.name].models]
    else:
        pack = manifest.pack(args.name)
        files = [pack.detector, pack.embedder]
    for spec in files:
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
