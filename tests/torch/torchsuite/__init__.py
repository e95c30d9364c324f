"""The real-PyTorch conformance suite's helpers (docs/PYTORCH.md).

Parent side (no torch import): catalog, runner, cachepack, blobs, lab.
Child side (one fresh process per PyTorch run): child, models.
"""
