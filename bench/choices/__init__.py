"""Benchmarks: choices."""
