"""Renders the JSON of one or more tools/bench.sh --json runs as one table.

    python -m cpbench.render RUN.json... > table.md

(How BENCHMARKS.md's table was made from runs of separate rows.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cpbench.measure import Samples
from cpbench.table import Row, Table


def main() -> int:
    rows = []
    for path in sys.argv[1:]:
        run = json.loads(Path(path).read_text())
        print(f"<!-- {path}: {json.dumps(run['run'])} -->")
        for r in run["rows"]:
            rows.append(
                Row(
                    r["row"], r["data"], r["cachepack"], r["baseline"], r["unit"],
                    Samples(r["cachepack_values"]), Samples(r["baseline_values"]),
                    r["target_max_ratio"], r["note"],
                    fixed=r.get("fixed", r["unit"] == "MB" or r["row"] == "7 growth"),
                )
            )  # fmt: skip
    print(Table(rows).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
