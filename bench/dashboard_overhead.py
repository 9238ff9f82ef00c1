"""Training-time overhead of the live dashboard vs plain ``model.fit(verbose=0)``.

Usage (full MNIST; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/dashboard_overhead.py [--pairs 10]

Seed 000's first MLP (``430 322 relu he_normal bn dropout=0.5``), batch 128, 3 epochs,
validating on the test set, on the same float32 arrays in one process. Each pair runs plain
``fit(verbose=0)`` and nbmnist's fit (its TrainingCallback, the SIGINT watcher, and a
LiveDashboard with its batch-progress thread and throttled redraws; display() goes to a
sink outside a kernel), in alternating order. Prints the median ratio of wall times and the
ratio of the process's CPU time (less sensitive to other tenants of a shared machine, whose
noise on one pair can exceed 30%). Target (issue 4): ratio <= 1.02.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import nbmnist
from nbmnist.training import TrainingInfo, prepare_arrays

DECLARATION = "430 322 relu he_normal bn dropout=0.5"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    dataset = nbmnist.load_dataset("mnist")
    if dataset.is_sample:
        raise SystemExit("full MNIST not found: set NBMNIST_DATA")
    x_train, y_train, x_test, y_test = prepare_arrays(dataset, "mlp")

    from nbmnist.callbacks import Interrupt, TrainingCallback
    from nbmnist.display.notebook import LiveDashboard
    from nbmnist.metric_log import MetricLog

    cpu_times: dict[bool, list[float]] = {False: [], True: []}

    def fit(with_dashboard: bool) -> float:
        model = nbmnist.build_model(DECLARATION)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        kwargs = {
            "batch_size": 128,
            "epochs": args.epochs,
            "validation_data": (x_test, y_test),
            "verbose": 0,
        }
        if not with_dashboard:
            start, cpu = time.perf_counter(), time.process_time()
            model.fit(x_train, y_train, **kwargs)
            cpu_times[False].append(time.process_time() - cpu)
            return time.perf_counter() - start
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            dashboard = LiveDashboard()
            interrupt = Interrupt()
            callback = TrainingCallback(MetricLog(), dashboard, interrupt)
            info = TrainingInfo(
                "bench",
                "mlp",
                model.count_params(),
                args.epochs,
                "MNIST",
                dataset.source,
                False,
                "CPU",
                "",
                len(x_train),
                "test",
                batch_progress=callback.batch_progress,
            )
            start, cpu = time.perf_counter(), time.process_time()
            dashboard.run_started(info)
            with interrupt.watch(model):
                model.fit(x_train, y_train, callbacks=[callback], **kwargs)
            elapsed = time.perf_counter() - start
            dashboard.close()
            cpu_times[True].append(time.process_time() - cpu)
        return elapsed

    fit(False)  # warm-up (tracing, caches, imports of matplotlib and ipywidgets): not measured
    fit(True)
    ratios, plain_times, ours_times = [], [], []
    for pair in range(args.pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        times = {flag: fit(flag) for flag in order}
        plain_times.append(times[False])
        ours_times.append(times[True])
        ratios.append(times[True] / times[False])
        print(
            f"pair {pair + 1}: plain {times[False]:.2f} s, dashboard {times[True]:.2f} s, "
            f"ratio {ratios[-1]:.3f}",
            flush=True,
        )
    print()
    print("| measure | value |")
    print("| --- | --- |")
    plain, ours = statistics.median(plain_times), statistics.median(ours_times)
    print(f"| plain `fit(verbose=0)`, median of {args.pairs} | {plain:.2f} s |")
    print(f"| nbmnist fit with dashboard, median of {args.pairs} | {ours:.2f} s |")
    print(f"| ratio (dashboard / plain), median of pairs | {statistics.median(ratios):.3f} |")
    print(f"| ratio range over pairs | {min(ratios):.3f} - {max(ratios):.3f} |")
    cpu_plain, cpu_ours = (statistics.median(cpu_times[flag][1:]) for flag in (False, True))
    print(f"| CPU time ratio (dashboard / plain), medians | {cpu_ours / cpu_plain:.3f} |")


if __name__ == "__main__":
    main()
