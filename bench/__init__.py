"""Benchmarks against the Debian anchors; run as modules from the repository root."""
