"""Write the performance page's tables from the benchmark suite's results.

Usage (from the repository's root; ``make bench`` runs it after the benchmarks):
    .venv/bin/python -m bench.tables [--check] [--results DIR] [--page PAGE]

Each results file (``bench/results/<name>.json``, written by pytest-benchmark under ``make
bench``) holds benchmarks whose ``extra_info`` has ``rows`` (column title: value) and
``notes``. The rows of a benchmark group (``@pytest.mark.benchmark(group=...)``) make one
table, placed in the page between ``<!-- bench:GROUP -->`` and ``<!-- /bench -->``, with the
notes, the command that reproduces it and the machine and date it ran on. Everything between
the two markers is replaced; the rest of the page is left as written.

``--check`` writes nothing and exits 1 if the page differs from what the results give (a
table edited by hand, or results not yet written into the page). Raises SystemExit naming a
group that has results but no place in the page, or a place but no results.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from bench.harness import Result

REPO = Path(__file__).resolve().parent.parent
PLACE = re.compile(r"(<!-- bench:([\w-]+) -->\n).*?(<!-- /bench -->)", re.S)


def machine_line(info: dict[str, Any], when: str, backend: str | None = None) -> str:
    """'Intel Xeon ..., 2 cores, 24 GiB; Python 3.11.9, Keras 3.15.1 on tensorflow (CPU);
    2026-12-06'."""
    ours = info.get("nbmnist", {})
    processor = ours.get("processor") or info.get("cpu", {}).get("brand_raw", "?")
    return (
        f"{processor}, {ours.get('cores', '?')} cores, {ours.get('memory_gib', '?')} GiB; "
        f"Python {ours.get('python', info.get('python_version', '?'))}, Keras "
        f"{ours.get('keras', '?')} on {backend or ours.get('keras_backend', '?')} "
        f"({ours.get('device', '?')}); {when[:10]}"
    )


def tables(results: Path) -> dict[str, str]:
    """{group: the Markdown placed between its markers} from every results file."""
    groups: dict[str, list[tuple[dict[str, Any], dict[str, Any], str]]] = {}
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        for bench in data["benchmarks"]:
            group = bench.get("group") or bench["name"]
            groups.setdefault(group, []).append((bench, data["machine_info"], data["datetime"]))
    return {group: table(entries) for group, entries in groups.items()}


def table(entries: list[tuple[dict[str, Any], dict[str, Any], str]]) -> str:
    """One group's rows and notes as Markdown, then the command and the machine."""
    result = Result(
        [row for bench, _, _ in entries for row in bench["extra_info"].get("rows", [])],
        [note for bench, _, _ in entries for note in bench["extra_info"].get("notes", [])],
    )
    modules = sorted({bench["fullname"].split("::")[0] for bench, _, _ in entries})
    machines = sorted(
        {
            machine_line(info, when, bench["extra_info"].get("keras_backend"))
            for bench, info, when in entries
        }
    )
    return (
        result.markdown()
        + f"\nMeasured by `make bench BENCH={' '.join(modules)}` on {'; '.join(machines)}.\n"
    )


def render(page: str, made: dict[str, str]) -> str:
    """The page with each group's table between its markers."""
    placed = {match.group(2) for match in PLACE.finditer(page)}
    missing = sorted(set(made) - placed)
    if missing:
        raise SystemExit(f"results with no place in the page: add <!-- bench:{missing[0]} -->")
    unmade = sorted(placed - set(made))
    if unmade:
        raise SystemExit(f"no results for <!-- bench:{unmade[0]} -->: run make bench")
    return PLACE.sub(lambda m: m.group(1) + made[m.group(2)] + m.group(3), page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--page", type=Path, default=REPO / "docs" / "performance.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    before = args.page.read_text()
    after = render(before, tables(args.results))
    if args.check:
        if after != before:
            print(f"{args.page} differs from {args.results}: run python -m bench.tables")
            return 1
        return 0
    args.page.write_text(after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
