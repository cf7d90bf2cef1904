"""A device without a camera: emits COUNT gate verdicts at RATE per second through
the real event stage, outbox and publisher, then waits for the outbox to drain.

    python tests/device_sim.py BUNDLE OUTBOX COUNT RATE

Exit 0 once every event is acknowledged by the broker. Used by the crash tests,
which SIGKILL it (or the broker, or the gateway) part-way.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from wire.bundle import load_bundle
from edge.settings import EdgeConfig
from edge.link.event_link import EventLink
from edge.vision.policy import Verdict


def main(bundle_path: str, outbox: str, count: int, rate: float) -> int:
    config = EdgeConfig()
    config.events.outbox = Path(outbox)
    config.events.gallery = Path(outbox).with_name("gallery.enc")  # beside its outbox, never shared with another
    config.events.resend_after_s = float(os.environ.get("FACEGATE_SIM_RESEND_S", "60"))
    link = EventLink.open(load_bundle(Path(bundle_path)), config, "buffalo_s")
    started = time.monotonic()
    for i in range(count):
        verdict = Verdict(timestamp=i / rate, track=i, verdict="granted" if i % 3 else "unknown",
                          subject=f"person-{i % 7}" if i % 3 else None, score=0.5 + (i % 10) / 100,
                          runner_up=0.1, threshold=0.36, margin=0.05, quality=0.8, frames=3)
        link.events.verdict(verdict, "cam-sim")
        print(f"committed {i + 1}", flush=True)
        delay = started + (i + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    left = link.close(flush_timeout_s=60)
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
