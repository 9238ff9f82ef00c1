"""The grid grammar of a sweep: ``--grid rate=0.0,0.1 lr=1e-4..1e-2:log``, its points and
random samples. Pure: no Keras, no processes."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from nbmnist.errors import OptionError

#: How a sweep chooses its points (``--search``).
SEARCHES = ("grid", "random")


@dataclass(frozen=True)
class Range:
    """A range to sample a grid name from with ``--search random``: ``lr=1e-4..1e-2:log``.

    Attributes:
        low, high: the bounds (``low < high``); both written as integers (``16..256``) give
            integers.
        log: sample uniformly in log space (``:log``; both bounds > 0).
        integer: the bounds were integers, so are the values.
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @classmethod
    def parse(cls, name: str, text: str) -> Range:
        """``"1e-4..1e-2:log"`` -> ``Range(1e-4, 1e-2, log=True)``.

        Raises:
            OptionError: not ``LOW..HIGH`` or ``LOW..HIGH:log`` with numbers, low >= high,
                or a log range that is not above 0.
        """
        bounds, _, scale = text.partition(":")
        low_text, _, high_text = bounds.partition("..")
        example = f"write {name}=LOW..HIGH or {name}=LOW..HIGH:log, e.g. lr=1e-4..1e-2:log"
        if scale not in ("", "log"):
            raise OptionError(f"--grid {name}={text}: unknown scale {scale!r}; {example}")
        try:
            low, high = float(low_text), float(high_text)
        except ValueError:
            raise OptionError(f"--grid {name}={text}: not a range of numbers; {example}") from None
        if not low < high or (scale == "log" and low <= 0):
            need = "0 < LOW < HIGH" if scale == "log" else "LOW < HIGH"
            raise OptionError(f"--grid {name}={text}: a range needs {need}")
        integer = all(part.strip().lstrip("-").isdigit() for part in (low_text, high_text))
        return cls(low, high, scale == "log", integer)

    def draw(self, rng: random.Random) -> str:
        """One value, as text: integers as such, other numbers to 3 significant digits (the
        value the point trains with is the one in its name)."""
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return str(round(value)) if self.integer else f"{value:.3g}"

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}" + (":log" if self.log else "")


Grid = Mapping[str, "list[str] | Range"]


def parse_grid(specs: list[str]) -> dict[str, list[str] | Range]:
    """``["rate=0.0,0.1", "lr=1e-4..1e-2:log"]`` -> ``{"rate": ["0.0", "0.1"], "lr": Range}``.

    Raises:
        OptionError: a spec is not ``NAME=V1,V2,...`` (or ``NAME=LOW..HIGH[:log]``) with a
            Python name and no empty value, or a name is given twice.
    """
    grid: dict[str, list[str] | Range] = {}
    for spec in specs:
        name, eq, values = spec.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise OptionError(f"--grid {spec!r}: write NAME=V1,V2,... e.g. rate=0.0,0.1,0.2")
        if name in grid:
            raise OptionError(f"--grid names {name!r} twice; give all its values at once")
        if ".." in values:
            grid[name] = Range.parse(name, values.strip())
            continue
        items = [value.strip() for value in values.split(",")]
        if not items or any(not item for item in items):
            raise OptionError(f"--grid {spec!r}: a value is empty; write rate=0.0,0.1,0.2")
        grid[name] = items
    if not grid:
        raise OptionError("--grid needs at least one NAME=V1,V2,...")
    return grid


def points(grid: Grid) -> list[dict[str, str]]:
    """Every combination of the grid's values (the product), in order.

    Raises:
        OptionError: a name is a ``Range`` (a range is sampled, ``sample``).
    """
    for name, values in grid.items():
        if isinstance(values, Range):
            raise OptionError(
                f"--grid {name}={values} is a range: sample it with --search random "
                f"--trials N, or list the values ({name}=V1,V2,...)"
            )
    names = list(grid)
    lists = [values for values in grid.values() if not isinstance(values, Range)]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*lists)]


def sample(grid: Grid, trials: int, seed: int = 0) -> list[dict[str, str]]:
    """``trials`` distinct points drawn at random, seeded: from the grid's product when every
    name lists its values (all of it when it has no more than ``trials`` points), else each
    name drawn on its own (a list uniformly, a ``Range`` as it says).

    Raises:
        OptionError: ``trials`` below 1.
    """
    if trials < 1:
        raise OptionError(f"--trials must be 1 or more, got {trials}")
    rng = random.Random(seed)
    if not any(isinstance(values, Range) for values in grid.values()):
        product = points(grid)
        return product if trials >= len(product) else rng.sample(product, trials)
    drawn: list[dict[str, str]] = []
    for _ in range(trials * 100):  # a narrow integer range may hold fewer distinct points
        point = {
            name: values.draw(rng) if isinstance(values, Range) else rng.choice(values)
            for name, values in grid.items()
        }
        if point not in drawn:
            drawn.append(point)
            if len(drawn) == trials:
                break
    return drawn
