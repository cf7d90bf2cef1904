"""A network camera stand-in: Motion-JPEG over HTTP (`multipart/x-mixed-replace`, what IP cameras serve at
`/mjpg/video.mjpg` and OpenCV's FFmpeg reads), played from frames in real time.

It can misbehave as real cameras do: send each frame several times (faster than its declared rate), or die --
stop sending mid-stream without closing the connection, and refuse every connection after.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = b"frame"


class NetworkCamera:
    """Serves `frames` at `fps` (each sent `repeat` times, so at `fps * repeat`), looping, from `url`; after
    `die_after_s` seconds of streaming it goes silent and refuses new connections."""

    def __init__(self, frames: list[np.ndarray], fps: float = 15.0, repeat: int = 1,
                 die_after_s: float | None = None):
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]
        self.fps, self.repeat, self.die_after_s = fps, repeat, die_after_s
        self.dead = threading.Event()
        self._closed = False
        self.sent = 0
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if camera.dead.is_set():
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
                self.end_headers()
                camera.stream(self.wfile)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mjpg/video.mjpg"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def stream(self, out) -> None:
        started = time.monotonic()
        interval = 1.0 / (self.fps * self.repeat)
        n = 0
        try:
            while not self.dead.is_set():
                if self.die_after_s is not None and time.monotonic() - started >= self.die_after_s:
                    self.die()
                    break
                jpegs = self.jpegs  # one list: `show` may put another in its place meanwhile
                jpeg = jpegs[(n // self.repeat) % len(jpegs)]
                out.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                          % len(jpeg) + jpeg + b"\r\n")
                out.flush()
                self.sent += 1
                n += 1
                time.sleep(max(0.0, started + n * interval - time.monotonic()))
            while not self._closed:  # dead: the connection stays open and silent, as a hung camera's does
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def show(self, frames: list[np.ndarray]) -> None:
        """What is in front of the camera from now on (looped): the next frame it sends is the first of these."""
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]

    def die(self) -> None:
        """Stop sending; every connection from now on is refused (the listening socket is closed)."""
        if not self.dead.is_set():
            self.dead.set()
            threading.Thread(target=self._close_listener, daemon=True).start()

    def _close_listener(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> NetworkCamera:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True
        self.die()
