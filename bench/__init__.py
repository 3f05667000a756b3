"""Benchmark of the sidecar's batch path against a per-record reference (`python -m bench`)."""
