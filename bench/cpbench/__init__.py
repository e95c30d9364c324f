"""cachepack's benchmark driver (tools/bench.sh; BENCHMARKS.md).

Every row compares cachepack with the tool a user would otherwise use, on the
same bytes in the same run, with the repetitions of both sides interleaved.
"""
