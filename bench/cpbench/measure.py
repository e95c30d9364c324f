"""Running commands and timing them: wall time and peak RSS of one child.

A child's peak RSS comes from os.wait4(), which reports the rusage of that
child alone (ru_maxrss, KiB on Linux), so nothing else the driver started is
mixed in. A shell pipeline is measured as its shell: ru_maxrss is then the
largest process of the pipeline's that the shell waited for (the children's
maxima are folded into the shell's RUSAGE_CHILDREN, which wait4 reports).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class CommandFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_kib: int
    stdout: str


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
) -> Run:
    """Runs argv to completion: wall seconds from fork to exit, peak RSS, stdout."""
    args = [os.fspath(a) for a in argv]
    out_fd = os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if stdout else None
    err_r, err_w = os.pipe()
    out_r, out_w = (None, None) if stdout else os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # The child: redirect and exec.
        try:
            if cwd is not None:
                os.chdir(cwd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_fd if out_fd is not None else out_w, 1)  # type: ignore[arg-type]
            os.dup2(err_w, 2)
            os.execvpe(args[0], args, env if env is not None else os.environ)
        finally:
            os._exit(127)
    os.close(err_w)
    if out_w is not None:
        os.close(out_w)
    if out_fd is not None:
        os.close(out_fd)
    captured = _drain(out_r, err_r)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise CommandFailed(f"{' '.join(args)} exited {code}:\n{captured[1][-2000:]}")
    return Run(seconds, int(usage.ru_maxrss), captured[0])


def _drain(out_r: int | None, err_r: int) -> tuple[str, str]:
    """Reads the child's stdout (when piped) and stderr to their ends."""
    import selectors

    chunks: dict[int, list[bytes]] = {err_r: []}
    if out_r is not None:
        chunks[out_r] = []
    sel = selectors.DefaultSelector()
    for fd in chunks:
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(chunks)
    while open_fds:
        for key, _ in sel.select():
            fd = int(key.fd)  # type: ignore[arg-type]
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                sel.unregister(fd)
                os.close(fd)
                open_fds.discard(fd)
    out = b"".join(chunks[out_r]).decode(errors="replace") if out_r is not None else ""
    return out, b"".join(chunks[err_r]).decode(errors="replace")


def shell(command: str, *, cwd: Path | None = None) -> Run:
    """`bash -c command`, timed, with the pipeline's largest peak RSS."""
    return run(["bash", "-c", command], cwd=cwd)


@dataclass
class Samples:
    """Repeated measurements of one side of a row."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


def interleave(
    reps: int, sides: dict[str, Callable[[int], float]], *, warmup: bool = False
) -> dict[str, Samples]:
    """Runs each side once per round, `reps` rounds, rotating which goes first.

    Each callable gets the round number and returns one measurement. The
    rotation spreads whatever else loads the machine over every side alike.
    With `warmup`, a first round is run and dropped (page cache, lazy imports).
    """
    names = list(sides)
    out = {name: Samples() for name in names}
    if warmup:
        for name in names:
            sides[name](-1)
    for r in range(reps):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            out[name].add(sides[name](r))
    return out
