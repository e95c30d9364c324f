"""Times torch 2.13's PersistentMemoizer against cachepack's, each in fresh processes.

Usage: .venv/bin/python bench/memo_torch_bench.py [N]

For each side, one process records N distinct calls into an empty
directory, and a second process replays them from disk (every call a
memory miss and a disk hit). Prints microseconds per call. The native module
is whatever tools/install_python.sh built (fastbuild unless
CACHEPACK_BAZEL_FLAGS="-c opt").
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time
from pathlib import Path
impl, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if impl == "torch":
    from torch._inductor.runtime.caching.interfaces import PersistentMemoizer
else:
    from cachepack.runtime import PersistentMemoizer
pm = PersistentMemoizer(sub_dir=Path("bench"))
def f(x, shape):
    return {"pad": x % 2 == 0, "n": len(shape)}
g = (pm.record() if mode == "record" else pm.replay())(f)
t = time.perf_counter()
for i in range(n):
    g(i, (i, 64, 128))
print((time.perf_counter() - t) / n * 1e6)
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for impl in ("cachepack", "torch"):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(
                os.environ,
                TMPDIR=tmp,
                LOGNAME="memo-bench",
                TORCHINDUCTOR_ENABLE_CACHING_MODULE="1",
            )
            for mode in ("record", "replay"):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, impl, mode, str(n)],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                print(f"{impl:9} {mode:6} {n} calls: {float(out):8.1f} us/call")


if __name__ == "__main__":
    main()
