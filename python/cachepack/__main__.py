"""``python -m cachepack ...``: the cachepack CLI, run in this process.

``env`` is answered in Python, which knows what the native CLI cannot: the
Python, torch, Triton and GPU fields (:func:`cachepack.environment.current`).
Everything else is the CLI itself.
"""

from __future__ import annotations

import argparse
import sys

from cachepack import _native


def _env(args: list[str]) -> int:
    """``env [--env FILE] [--no-torch]``: this process's environment as JSON."""
    from cachepack import environment
    from cachepack.errors import Error

    parser = argparse.ArgumentParser(
        prog="cachepack env",
        description="Print this machine's environment as cachepack records it (JSON), "
        "with the Python, torch, Triton and GPU fields.",
    )
    parser.add_argument("--env", metavar="FILE", help="a JSON file whose fields go over it")
    parser.add_argument("--no-torch", action="store_true", help="do not import torch")
    options = parser.parse_args(args)
    try:
        env = environment.current(torch=not options.no_torch)
        if options.env:
            with open(options.env, encoding="utf-8") as f:
                env.update(environment.from_json(f.read(), options.env))
        print(environment.to_json(env, indent=2))
    except Error as e:
        print(f"cachepack: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"cachepack: {options.env}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    """Runs the CLI (docs in README.md, "The CLI") and returns its exit code."""
    args = sys.argv[1:]
    if args[:1] == ["env"]:
        return _env(args[1:])
    # The CLI writes to descriptors 1 and 2 itself: what Python buffered
    # goes first.
    sys.stdout.flush()
    sys.stderr.flush()
    return _native.run_cli(["cachepack", *args])


if __name__ == "__main__":
    sys.exit(main())
