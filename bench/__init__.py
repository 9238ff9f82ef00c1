"""nbmnist's benchmark suite: ``make bench`` (pytest-benchmark; results in bench/results/,
tables in docs/performance.md)."""
