"""Benchmarks: grading."""
