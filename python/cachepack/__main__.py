"""``python -m cachepack ...``: the cachepack CLI, run in this process."""

from __future__ import annotations

import sys

from cachepack import _native


def main() -> int:
    """Runs the CLI (docs in README.md, "The CLI") and returns its exit code."""
    # The CLI writes to descriptors 1 and 2 itself: what Python buffered
    # goes first.
    sys.stdout.flush()
    sys.stderr.flush()
    return _native.run_cli(["cachepack", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
