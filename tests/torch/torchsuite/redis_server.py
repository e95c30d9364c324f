"""A real redis-server on a free loopback port in a temp dir, for the tests of
cachepack's `redis://...?layout=pytorch` against PyTorch's own Redis remote
caches (the `redis` client from PyPI, as PyTorch uses it)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

REDIS_SERVER = Path("/usr/bin/redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        if not REDIS_SERVER.exists():
            raise RuntimeError(f"{REDIS_SERVER} is missing: run tools/setup.sh")
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(workdir), "--save", "", "--appendonly", "no"]
        self._log = (workdir / "redis.log").open("wb")
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.exceptions.ConnectionError as e:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    why = f"redis-server did not start; see {workdir}/redis.log"
                    raise RuntimeError(why) from e
                time.sleep(0.05)

    def url(self, query: str = "layout=pytorch") -> str:
        return f"redis://127.0.0.1:{self.port}?{query}"

    def torch_env(self) -> dict[str, str]:
        """PyTorch's Redis remote caches switched on and pointed here."""
        return {
            "TORCHINDUCTOR_FX_GRAPH_REMOTE_CACHE": "1",
            "TORCHINDUCTOR_AUTOGRAD_REMOTE_CACHE": "1",
            "TORCH_DYNAMO_AUTOMATIC_DYNAMIC_REMOTE_PGO": "1",
            "TORCHINDUCTOR_REDIS_HOST": "127.0.0.1",
            "TORCHINDUCTOR_REDIS_PORT": str(self.port),
        }

    def stats(self) -> dict[str, int]:
        info = self.client.info("stats")
        return {k: int(info[k]) for k in ("keyspace_hits", "keyspace_misses")}

    def stop(self) -> None:
        self.client.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
