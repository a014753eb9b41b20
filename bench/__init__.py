"""Benchmarks (never part of `make test`). Each prints its figure as a ratio against a baseline
measured in the same run, because the machines are shared and noisy."""
