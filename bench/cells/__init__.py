"""Benchmarks: cells."""
