"""A stand-in for the WAN between a site and the centre: a TCP relay on this machine that can be cut.

Only the network is faked: the site broker's bridge connects to the relay, the
relay to the central broker, and TLS runs end to end through it. `cut()` makes
the link behave as a dead WAN does: bytes on open connections are silently
dropped (each end finds out through its own keepalive), and new connections
are refused, as a site router answers with the uplink down. `restore()`
closes the dead connections and lets new ones through again.
"""

from __future__ import annotations

import socket
import threading

from stack import free_port


class WanLink:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._up = threading.Event()
        self._stopping = False
        self._server: socket.socket | None = None
        self.restore()

    def cut(self) -> None:
        with self._lock:
            self._up.clear()
            if self._server:
                _close(self._server)  # new connections: refused
                self._server = None

    def restore(self) -> None:
        with self._lock:
            for s in self._open:  # the connections that died with the link
                _close(s)
            self._open.clear()
            self._server = socket.create_server(("127.0.0.1", self.port))
            self._up.set()
            threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def close(self) -> None:
        self._stopping = True
        self.cut()
        with self._lock:
            for s in self._open:
                _close(s)

    def _accept(self, server: socket.socket) -> None:
        while not self._stopping:
            try:
                client, _ = server.accept()
            except OSError:  # the listener was closed: the link is cut
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self._up.is_set():  # a dead link loses what is sent over it
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
