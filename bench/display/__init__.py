"""Benchmarks: display."""
