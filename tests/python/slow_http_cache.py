"""A slow HTTP cache for the thread tests: every PUT is accepted after a fixed
delay and nothing is stored (HEAD and GET answer 404), so a populate into it
takes (PUTs x delay) whatever the CPU load. Listens on 127.0.0.1 only.

Usage: python slow_http_cache.py DELAY_SECONDS; prints the port, serves until
its standard input closes.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowHandler(BaseHTTPRequestHandler):
    """Accepts PUTs slowly; knows no key."""

    protocol_version = "HTTP/1.1"  # Keep-alive, as the client expects.
    delay = 0.0

    def _reply(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._reply(404)

    def do_GET(self) -> None:
        self._reply(404)

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(self.delay)
        self._reply(200)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    SlowHandler.delay = float(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # Until the test closes our standard input.
    server.shutdown()


if __name__ == "__main__":
    main()
