"""Benchmarks: sweeps."""
