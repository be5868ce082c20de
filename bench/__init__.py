"""Benchmarks: `bench/run.py` (`make bench`) is the entry point; see bench/results.md."""
