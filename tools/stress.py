"""A stress test of the run store and the magics (issue 13): kills, races, Ctrl-C, damaged
input, each tried many times. Long; ``tests/`` holds the fast versions of each. Not a
benchmark: it counts failures (there must be none), it does not measure speed.

Usage (any machine; the bundled sample, nothing from ../shared):
    make stress [STRESS="--kills 50 --kernel-tries 3 --parts sigkill"]

What it does, each part reporting tries and failures:

- SIGKILL: a child process trains seed 000's MLP (4 epochs, the sample) into one store
  again and again, killed ``--kills`` times, the store kept across kills. The kills are
  aimed in turn at five phases: a random moment before the first epoch ends, a random
  moment of the later epochs, inside a ``run.json`` replacement and inside a model save
  (the child, told through a control file, stops after syncing that write's temporary file,
  before its rename; half the model-save kills instead land while Keras writes the archive,
  polled every millisecond), and anywhere in the run. After each kill: every record
  readable, no run left ``running`` (each ``killed`` or ``completed``), history lengths
  consistent, ``model_epoch`` within the epochs and every killed run's model loading. Where
  each kill landed is read from what it left (no record yet, mid-training, after the last
  epoch, inside a ``run.json`` write or a model save: their temporary files), not assumed.
  At the end one more run is written to the store and the temporary files of the dead must
  be gone.
- 8 processes training ``name="same"`` into one store at once: 8 folders, no run lost.
- ``--overwrite`` of a completed run, killed mid-training: the completed run is still there.
- Ctrl-C in a real kernel (jupyter_client): once and twice during training (the run kept as
  ``interrupted`` with its epochs), and during the first cell's imports; then the next
  training cell must run.
- 103 hostile cells (``tests/hostile_cells.py``): one-line errors, time per cell.
- Damaged data folders: a ``DataError`` naming the file, never trained on.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEED_MLP = "430 322 relu he_normal bn dropout=0.5"
EPOCHS = 4

CHILD = textwrap.dedent(
    f"""
    import os, sys, time
    import nbmnist
    from nbmnist.display.console import ConsoleDisplay
    quiet = ConsoleDisplay(open(os.devnull, "w"))
    control, fsync = sys.argv[3], os.fsync

    def pausing_fsync(fd):
        # Where CONTROL.run.json or CONTROL.model.keras exists, stop for the parent's kill
        # after the temporary file of that write is synced, before its rename (for
        # run.json: a replacement, the record already on disk).
        fsync(fd)
        try:
            path = os.readlink(f"/proc/self/fd/{{fd}}")
        except OSError:
            return
        name, folder = os.path.basename(path), os.path.dirname(path)
        for what in ("run.json", "model.keras"):
            if (name.startswith("." + what) and os.path.exists(f"{{control}}.{{what}}")
                    and (what != "run.json" or os.path.exists(os.path.join(folder, what)))):
                open(f"{{control}}.paused", "w").close()
                time.sleep(60)

    if control:
        os.fsync = pausing_fsync
    options = {{"epochs": {EPOCHS}, "validation": "test", **eval(sys.argv[2])}}
    for n in range(1000):
        nbmnist.train({SEED_MLP!r}, "mlp", f"k{{n}}", display=quiet, runs_dir=sys.argv[1],
                      **options)
    """
)


def environment() -> dict[str, str]:
    env = {**os.environ, "NBMNIST_DOWNLOAD": "0", "PYTHONPATH": str(REPO)}
    env.pop("NBMNIST_DATA", None)
    if importlib.util.find_spec("jax") is not None:
        env.setdefault("KERAS_BACKEND", "jax")  # starts in a third of TensorFlow's time
    return env


def child(store: Path, options: str = "{}", control: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), options, str(control or "")],
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition: Any, timeout: float = 120, poll: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False


def temporaries(store: Path) -> list[Path]:
    from nbmnist.runs import STAGING, TEMPORARY

    return [*store.glob(f"*/.*{TEMPORARY}*"), *store.glob(f"{STAGING}/*")]


def _new_record(store: Path, before: set[str]) -> dict[str, Any] | None:
    """The record of the run a child started after ``before`` was listed, if written."""
    for path in store.glob("*/run.json"):
        if path.parent.name not in before:
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):
                return None
    return None


PHASES = (
    "before the first epoch ended",
    "mid-training",
    "inside a run.json write",
    "inside a model save",
    "anywhere",
)


def sigkills(kills: int, seed: int = 20261123) -> dict[str, Any]:
    """SIGKILL a child training into one store ``kills`` times, aimed in turn at each of
    ``PHASES``; where each kill landed is then read from what it left, not assumed."""
    from nbmnist.runs import RunStore

    rng = random.Random(seed)
    aimed: dict[str, int] = {}
    landed: dict[str, int] = {}
    failures: list[str] = []
    records = models_loaded = temporaries_seen = 0
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        control = Path(folder) / "pause"
        # A fresh process's first run, timed: from its first record to its first epoch, and
        # to completion.
        process = child(store, control=control)
        wait_for(lambda: (store / "k0" / "run.json").is_file())
        began = time.monotonic()
        wait_for(lambda: (_new_record(store, set()) or {}).get("history", {}).get("loss"))
        first_epoch = time.monotonic() - began
        wait_for(lambda: (store / "k0" / "model.keras").is_file() and json.loads(
            (store / "k0" / "run.json").read_text())["status"] == "completed")  # fmt: skip
        span = time.monotonic() - began
        later_epochs = span - first_epoch
        process.kill()
        process.wait()
        for kill in range(kills):
            phase = PHASES[kill % len(PHASES)]
            aimed[phase] = aimed.get(phase, 0) + 1
            before = {path.parent.name for path in store.glob("*/run.json")}
            for stale in Path(folder).glob("pause.*"):
                stale.unlink()
            paused = phase == "inside a run.json write" or (
                phase == "inside a model save" and kill % 2 == 0
            )
            if paused:
                # The child stops after writing and fsyncing the temporary file, before the
                # rename: the widest window of an atomic write, held open for the kill.
                Path(f"{control}.{'run.json' if 'run.json' in phase else 'model.keras'}").touch()
            process = child(store, control=control)
            wait_for(lambda: _new_record(store, before) is not None)  # noqa: B023
            if phase == "before the first epoch ended":
                time.sleep(rng.uniform(0.0, first_epoch))
            elif phase == "mid-training":
                wait_for(lambda: (_new_record(store, before) or {}).get("history", {}).get("loss"))  # noqa: B023
                time.sleep(rng.uniform(0.0, later_epochs))
            elif paused:
                if not wait_for(lambda: Path(f"{control}.paused").is_file(), timeout=60):
                    failures.append(f"kill {kill}: the child never reached {phase}")
            elif phase == "inside a model save":
                # Killed while Keras writes the temporary archive (polled every millisecond).
                wait_for(lambda: any(store.glob("*/.model.keras.*")), poll=0.001)
            else:
                time.sleep(rng.uniform(0.0, 1.2 * span))
            process.kill()
            process.wait()
            leftovers = [p.name for p in temporaries(store)]
            temporaries_seen += len(leftovers)
            runs = {run.name: run for run in RunStore(store)}
            skipped = RunStore(store)
            list(skipped)
            if skipped.skipped:
                failures.append(f"kill {kill}: unreadable {skipped.skipped}")
            started = [runs[name] for name in sorted(set(runs) - before)]  # this child's runs
            run = next((r for r in started if r.status != "completed"), None)
            if any(name.startswith(".run.json") for name in leftovers):
                where = "inside a run.json write"
            elif any(name.startswith(".model.keras") for name in leftovers):
                where = "inside a model save"
            elif run is None:
                where = "between runs (before the next one's first record)"
            elif run.epochs == EPOCHS:
                where = "after the last epoch (evaluation, final save)"
            elif run.epochs == 0:
                where = "before the first epoch ended"
            else:
                where = "mid-training"
            landed[where] = landed.get(where, 0) + 1
            for run in runs.values():
                records += 1
                lengths = {len(values) for values in run.history.values()}
                if run.status not in ("killed", "completed"):
                    failures.append(f"kill {kill}: {run.name} is {run.status}")
                if len(lengths) > 1 or len(run.epoch_seconds) != run.epochs:
                    failures.append(f"kill {kill}: {run.name} epochs inconsistent")
                if run.model_epoch is not None and not 1 <= run.model_epoch <= run.epochs:
                    failures.append(f"kill {kill}: {run.name} model_epoch {run.model_epoch}")
                if run.status == "killed" and run in started and run.model_path:
                    try:
                        run.model.count_params()
                        models_loaded += 1
                    except Exception as err:
                        failures.append(f"kill {kill}: {run.name} model: {err}")
        for stale in Path(folder).glob("pause.*"):
            stale.unlink()
        final = child(store, "{'epochs': 1}")
        wait_for(lambda: len({p.parent.name for p in store.glob("*/run.json")}) > len(runs))
        wait_for(lambda: not temporaries(store), timeout=30)
        final.kill()
        final.wait()
        left_after = [p.name for p in temporaries(store) if str(final.pid) not in p.name]
    return {
        "kills": kills,
        "aimed": aimed,
        "landed": landed,
        "records checked": records,
        "killed models loaded": models_loaded,
        "seconds from first record to first epoch": round(first_epoch, 2),
        "seconds from first record to completion": round(span, 2),
        "temporary files seen right after kills": temporaries_seen,
        "temporary files left after the next write": len(left_after),
        "failures": failures,
    }


def race(processes: int = 8) -> dict[str, Any]:
    code = textwrap.dedent(
        """
        import os, sys, time
        import nbmnist
        from nbmnist.display.console import ConsoleDisplay
        start = float(sys.argv[2])
        while time.time() < start:
            time.sleep(0.001)
        run = nbmnist.train("dense 32 relu", "mlp", "same", epochs=2, runs_dir=sys.argv[1],
                            display=ConsoleDisplay(open(os.devnull, "w")))
        print(run.name, run.created, os.getpid())
        """
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        start = time.time() + 25  # every child imported and waiting
        children = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(store), str(start)],
                env=environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(processes)
        ]
        names = [c.communicate(timeout=600)[0].splitlines()[-1].split()[0] for c in children]
        on_disk = {
            path.parent.name: json.loads(path.read_text())["name"]
            for path in store.glob("*/run.json")
        }
    failures = []
    if len(set(names)) != processes:
        failures.append(f"shared names: {sorted(names)}")
    if sorted(on_disk) != sorted(names) or any(k != v for k, v in on_disk.items()):
        failures.append(f"store holds {on_disk}")
    return {"processes": processes, "names": sorted(names), "failures": failures}


def overwrite_killed() -> dict[str, Any]:
    from nbmnist.runs import RunStore

    failures = []
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        first = child(store, "{'epochs': 1}")
        wait_for(
            lambda: RunStore(store).names() and RunStore(store).load("k0").status == "completed"
        )
        first.kill()
        first.wait()
        old = RunStore(store).load("k0")
        code = CHILD.replace('f"k{n}"', '"k0", overwrite=True')
        replacing = subprocess.Popen(
            [sys.executable, "-c", code, str(store), "{'epochs': 50}"],
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: any(store.glob(".nbmnist-staging/*/run.json")))
        time.sleep(1.5)
        replacing.kill()
        replacing.wait()
        kept = RunStore(store).load("k0")
        if (kept.created, kept.status, kept.epochs) != (old.created, "completed", old.epochs):
            failures.append(f"k0 is now {kept!r}")
    return {"tries": 1, "failures": failures}


def kernel_interrupts(tries: int) -> dict[str, Any]:
    from nbmnist.__main__ import kernel_manager

    results: dict[str, dict[str, int]] = {}

    def execute(client: Any, code: str) -> tuple[str, str]:
        reply_id = client.execute(code)
        out = ""
        while True:
            message = client.get_iopub_msg(timeout=300)
            if message["parent_header"].get("msg_id") != reply_id:
                continue
            if message["msg_type"] == "stream":
                out += message["content"]["text"]
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        for _ in range(50):
            reply = client.get_shell_msg(timeout=300)
            if reply["parent_header"].get("msg_id") == reply_id:
                return reply["content"]["status"], out
        return "lost", out

    rng = random.Random(7)
    for case in ("once", "twice", "during the first cell's imports"):
        tally = results.setdefault(case, {"tries": 0, "next cell ran": 0})
        if not case.startswith("during"):
            tally.setdefault("run kept as interrupted", 0)
        for _ in range(tries):
            store = tempfile.mkdtemp(prefix="nbmnist-reliability-")
            manager = kernel_manager()
            manager.start_kernel(env={**environment(), "NBMNIST_RUNS": store})
            client = manager.client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=120)
                execute(client, "%load_ext nbmnist")
                tally["tries"] += 1
                if case.startswith("during"):
                    client.execute("%%mlp first --epochs 1 --no-live\ndense 8")
                    time.sleep(rng.uniform(0.2, 1.5))
                    manager.interrupt_kernel()
                else:
                    reply_id = client.execute("%%mlp long --epochs 3000 --no-live\ndense 64 relu")
                    seen = ""
                    while "long epoch 2/3000" not in seen:
                        message = client.get_iopub_msg(timeout=300)
                        if message["parent_header"].get("msg_id") == reply_id:
                            seen += message["content"].get("text", "")
                    manager.interrupt_kernel()
                    if case == "twice":
                        time.sleep(0.1)
                        manager.interrupt_kernel()
                time.sleep(3)
                status, out = execute(
                    client, "r = nbmnist.runs()\nprint([(x.name, x.status, x.epochs) for x in r])"
                )
                if not case.startswith("during") and "('long', 'interrupted'," in out:
                    tally["run kept as interrupted"] += 1
                status, out = execute(client, "%%mlp after --epochs 1 --no-live\ndense 8")
                tally["next cell ran"] += status == "ok" and "after: test_loss" in out
            finally:
                client.stop_channels()
                manager.shutdown_kernel(now=True)
                shutil.rmtree(store, ignore_errors=True)
    return results


def hostile_cells() -> dict[str, Any]:
    from IPython.testing.globalipapp import start_ipython

    from tests.hostile_cells import SENTINEL, cells

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    shell.user_ns["units"] = 8
    times, failures, slow = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        os.environ["NBMNIST_RUNS"] = str(Path(folder) / "store")
        here = os.getcwd()
        os.chdir(folder)
        try:
            for kind, line, body in cells():
                began = time.perf_counter()
                result = shell.run_cell(f"%%{kind} {line}\n{body}", silent=True)
                times.append((time.perf_counter() - began) * 1000)
                if times[-1] > 50:
                    slow.append(f"{kind} {line[:24]!r} {body[:24]!r}: {times[-1]:.0f} ms")
                error = result.error_before_exec or result.error_in_exec
                if error is None or "\n" in str(error):
                    failures.append(f"{line[:30]!r} {body[:30]!r}: {error!r}")
            if Path(SENTINEL).exists() or (Path(folder) / "store").exists():
                failures.append("something was written")
        finally:
            os.chdir(here)
    return {
        "cells": len(times),
        "median ms": round(statistics.median(times), 2),
        "slowest ms": round(max(times), 2),
        "over 50 ms": slow,
        "failures": failures,
    }


def damaged_data() -> dict[str, Any]:
    import nbmnist
    from nbmnist.data import SAMPLE_DIR, SPLITS

    def folder_with(base: Path, change: Any) -> Path:
        target = base / "mnist"
        target.mkdir(parents=True)
        for name in SPLITS.values():
            (target / name).write_bytes(
                gzip.decompress((SAMPLE_DIR / "mnist" / f"{name}.gz").read_bytes())
            )
        change(target)
        return base

    def flip(path: Path, at: int) -> None:
        data = bytearray(path.read_bytes())
        data[at] ^= 0xFF
        path.write_bytes(bytes(data))

    cases = {
        "truncated images": lambda t: (t / "train-images-idx3-ubyte").write_bytes(
            (t / "train-images-idx3-ubyte").read_bytes()[:-100]
        ),
        "flipped pixel bytes": lambda t: flip(t / "train-images-idx3-ubyte", 5000),
        "flipped label byte": lambda t: flip(t / "t10k-labels-idx1-ubyte", 20),
        "wrong magic": lambda t: flip(t / "train-labels-idx1-ubyte", 2),
        "labels out of range": lambda t: (t / "train-labels-idx1-ubyte").write_bytes(
            (t / "train-labels-idx1-ubyte").read_bytes()[:8] + b"\x0c" * 6000
        ),
        "a file missing": lambda t: (t / "t10k-images-idx3-ubyte").unlink(),
        "Fashion-MNIST's files": lambda t: [
            (t / n).write_bytes(
                gzip.decompress((SAMPLE_DIR / "fashion-mnist" / f"{n}.gz").read_bytes())
            )
            for n in SPLITS.values()
        ],
    }
    failures = []
    for label, change in cases.items():
        with tempfile.TemporaryDirectory() as base:
            folder = folder_with(Path(base), change)
            os.environ["NBMNIST_DATA"] = base
            try:
                nbmnist.train("dense 8", "mlp", epochs=1, runs_dir=f"{base}/store", live=False)
                failures.append(f"{label}: trained")
            except nbmnist.DataError as err:
                if str(folder) not in str(err) or "\n" in str(err):
                    failures.append(f"{label}: {err}")
            except Exception as err:
                failures.append(f"{label}: {type(err).__name__}: {err}")
            finally:
                del os.environ["NBMNIST_DATA"]
    with tempfile.TemporaryDirectory() as empty:
        os.environ["NBMNIST_DATA"] = empty
        try:
            nbmnist.train("dense 8", "mlp", epochs=1, runs_dir=f"{empty}/store", live=False)
            failures.append("empty NBMNIST_DATA: trained")
        except nbmnist.DataError:
            pass
        finally:
            del os.environ["NBMNIST_DATA"]
    return {"kinds": len(cases) + 1, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--kernel-tries", type=int, default=3)
    parser.add_argument("--parts", nargs="+", default=list(PARTS))
    args = parser.parse_args()
    os.environ["NBMNIST_DOWNLOAD"] = "0"
    os.environ.pop("NBMNIST_DATA", None)
    for part in args.parts:
        began = time.perf_counter()
        if part == "sigkill":
            result = sigkills(args.kills)
        elif part == "kernel":
            result = kernel_interrupts(args.kernel_tries)
        else:
            result = PARTS[part]()
        print(f"{part} ({time.perf_counter() - began:.0f} s): {json.dumps(result)}", flush=True)


PARTS: dict[str, Any] = {
    "sigkill": sigkills,
    "race": race,
    "overwrite": overwrite_killed,
    "kernel": kernel_interrupts,
    "hostile": hostile_cells,
    "data": damaged_data,
}

if __name__ == "__main__":
    main()
