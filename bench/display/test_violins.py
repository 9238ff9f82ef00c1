"""How long do the weight violins take? Lesson 01's three MLPs: every weight given to seaborn (the baseline) vs
each kernel over ``VIOLIN_POINTS`` weights drawn from that many of its quantiles (nbmnist).

    make bench BENCH=bench/display/test_violins.py

The models are lesson 01's ``relu_2h``, ``relu_3h`` and ``relu_5h`` (1.2 million weights in
all), freshly initialised (the cost depends on the number of weights, not their values). Each
repeat draws ``plot_weight_violins([...])`` both ways, alternating, in this one process, and
the figure is rendered to PNG (as a notebook shows it). Reported: medians and the largest
gap between a drawn quartile line and the full kernel's quartile.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from typing import Any
from unittest import mock

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from bench.harness import Result
from nbmnist import build_model
from nbmnist import plots as nbmnist_plots

REPEAT = 3
LESSON_01 = ("430 322 relu", "320 270 190 relu", "340 190 150 100 50 relu")


def draw(models: list[object], every_weight: bool) -> tuple[float, object]:
    """Seconds to draw and render the violins; the figure."""
    started = time.perf_counter()
    if every_weight:
        with mock.patch.object(nbmnist_plots, "violin_points", lambda values: values):
            figure = nbmnist_plots.plot_weight_violins(models)
    else:
        figure = nbmnist_plots.plot_weight_violins(models)
    figure.savefig(io.BytesIO(), format="png")
    return time.perf_counter() - started, figure


def quartile_gap(models: list[object], figure: object) -> float:
    """Largest distance from a kernel's quartile to the nearest drawn quartile line."""
    gap = 0.0
    for model, axis in zip(models, figure.axes, strict=True):  # type: ignore[attr-defined]
        drawn = [line.get_ydata()[0] for line in axis.lines if len(set(line.get_ydata())) == 1]
        for array in nbmnist_plots.weight_arrays(model):
            for quartile in np.quantile(array.values, [0.25, 0.5, 0.75]):
                gap = max(gap, min(abs(y - quartile) for y in drawn))
    return gap


def measure() -> Result:
    models = [build_model(text) for text in LESSON_01]
    weights = sum(a.values.size for m in models for a in nbmnist_plots.weight_arrays(m))
    draw(models, every_weight=False)  # imports seaborn, warms matplotlib
    full, thinned, gap = [], [], 0.0
    for _ in range(REPEAT):
        seconds, _ = draw(models, every_weight=True)
        full.append(seconds)
        seconds, figure = draw(models, every_weight=False)
        thinned.append(seconds)
        gap = max(gap, quartile_gap(models, figure))
    full_s, thinned_s = statistics.median(full), statistics.median(thinned)
    return Result(
        [
            {"violins drawn from": "every weight (baseline)", "seconds": full_s, "ratio": 1.0},
            {
                "violins drawn from": f"at most {nbmnist_plots.VIOLIN_POINTS:,} quantiles a kernel",
                "seconds": thinned_s,
                "ratio": full_s / thinned_s,
            },
        ],
        [
            f"Lesson 01's three MLPs, {weights:,} weights; median of {REPEAT}. Largest gap from "
            f"a drawn quartile line to the full kernel's quartile: {gap:.2e}."
        ],
    )


@pytest.mark.benchmark(group="violins")
def test_violins_from_quantiles_against_every_weight(measured: Any) -> None:
    measured(measure)
