"""redis-server and nginx (WebDAV PUT) on loopback, ephemeral ports, temp dirs.

Configured as tests/server_fixture.cc configures them for the tests: Redis
without persistence, nginx as one process (master_process off) whose
`dav_methods PUT` takes the Bazel-protocol uploads. Each is stopped by the
pid this module started, never by name.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on {port}: {log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def redis(work: Path) -> Iterator[int]:
    """A redis-server; yields its port."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = work / "redis.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_port(port, proc, "redis-server", log)
        yield port
    finally:
        _stop(proc)


@contextmanager
def nginx(work: Path) -> Iterator[tuple[int, Path]]:
    """nginx taking PUTs under its root; yields (port, root)."""
    work.mkdir(parents=True, exist_ok=True)
    root = work / "root"
    root.mkdir(exist_ok=True)
    (work / "tmp").mkdir(exist_ok=True)
    port = free_port()
    temps = "".join(
        f"  {t}_temp_path {work / 'tmp' / t};\n"
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = f"""master_process off;
daemon off;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
{temps}  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 0;
    }}
  }}
}}
"""
    (work / "nginx.conf").write_text(conf)
    log = work / "error.log"
    log.touch()
    proc = subprocess.Popen(
        ["nginx", "-p", str(work), "-e", str(log), "-c", str(work / "nginx.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port, proc, "nginx", log)
        yield port, root
    finally:
        _stop(proc)
