"""Ctrl-C in a real Jupyter kernel: the run is kept as interrupted and the kernel carries on."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbmnist.__main__ import kernel_manager

# one pytest-xdist worker runs this module: its tests share one kernel
pytestmark = pytest.mark.xdist_group("test_kernel")


@contextlib.contextmanager
def started_kernel() -> Iterator[tuple[Any, Any]]:
    """A fresh IPython kernel (offline data) and its client, ready; shut down on leaving."""
    manager = kernel_manager()
    manager.start_kernel(env={**os.environ, "NBMNIST_DOWNLOAD": "0"})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[tuple[Any, Any]]:
    with started_kernel() as started:
        yield started


def reply_to(client: Any, msg_id: str, timeout: float = 120) -> dict[str, Any]:
    """The shell reply to request ``msg_id``, skipping replies to earlier requests (under load
    ``wait_for_ready`` may have sent several kernel_info requests, each answered)."""
    while True:
        reply: dict[str, Any] = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def run(client: Any, code: str, timeout: float = 120) -> tuple[str, str]:
    """Execute ``code``; return (status, everything printed to stdout)."""
    reply_id = client.execute(code)
    out = []
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != reply_id:
            continue
        if message["msg_type"] == "stream":
            out.append(message["content"]["text"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return reply_to(client, reply_id, timeout)["content"]["status"], "".join(out)


def wait_until_idle(client: Any, msg_id: str) -> None:
    while True:
        message = client.get_iopub_msg(timeout=120)
        if (
            message["parent_header"].get("msg_id") == msg_id
            and message["msg_type"] == "status"
            and message["content"]["execution_state"] == "idle"
        ):
            return


def run_next(client: Any, code: str) -> tuple[str, str]:
    """``run`` as a user runs the next cell after an error. ipykernel (7.x) aborts requests
    that reach it before it has finished aborting the queue after the error (stop_on_error),
    a window a test can hit by sending at once and a person cannot; retry those."""
    for _ in range(5):
        status, out = run(client, code)
        if status != "aborted":
            return status, out
        time.sleep(0.2)
    return status, out


def test_interrupt_keeps_completed_epochs_and_the_next_cell_runs(kernel: tuple[Any, Any]) -> None:
    manager, client = kernel
    status, _ = run(client, "%load_ext nbmnist")
    assert status == "ok"
    reply_id = client.execute("%%mlp long --epochs 200 --no-live\ndense 64 relu")
    seen = ""
    deadline = time.monotonic() + 120
    while "long epoch 2/200" not in seen and time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=120)
        if message["parent_header"].get("msg_id") == reply_id and message["msg_type"] == "stream":
            seen += message["content"]["text"]
    assert "long epoch 2/200" in seen
    manager.interrupt_kernel()  # what the notebook's stop button does: SIGINT
    reply = reply_to(client, reply_id)
    assert reply["content"]["status"] == "error"
    # a KeyboardInterrupt, shown as one line: no traceback through nbmnist
    assert reply["content"]["ename"] == "TrainingInterrupted"
    (line,) = reply["content"]["traceback"]
    assert line.startswith("KeyboardInterrupt: stopped; long holds the interrupted run (")
    wait_until_idle(client, reply_id)
    status, out = run_next(client, "print(long.name, long.status, long.epochs)")
    assert status == "ok"
    name, state, epochs = out.split()
    assert (name, state) == ("long", "interrupted") and 2 <= int(epochs) < 200
    status, out = run(client, "%%mlp after --epochs 1 --no-live\ndense 8")
    assert status == "ok" and "after: test_loss" in out


#: Kernel code that creates the file ``mark`` when ``import keras`` starts.
MARK_KERAS_IMPORT = """
import importlib.abc, pathlib, sys
class Mark(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "keras":
            pathlib.Path({mark!r}).touch()
        return None
sys.meta_path.insert(0, Mark())
"""


def test_interrupt_during_the_first_cells_imports_leaves_a_working_kernel(
    tmp_path: Path,
) -> None:
    """Ctrl-C while the first training cell of a fresh kernel imports Keras and its backend
    (breaking that import broke the kernel): the cell stops with KeyboardInterrupt once the
    import is done, and the next training cell works."""
    mark = tmp_path / "keras-importing"
    with started_kernel() as (manager, client):
        assert (
            run(client, "%load_ext nbmnist\n" + MARK_KERAS_IMPORT.format(mark=str(mark)))[0] == "ok"
        )
        reply_id = client.execute("%%mlp first --epochs 1 --no-live\ndense 8")
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:  # Keras is being imported
            time.sleep(0.01)
        manager.interrupt_kernel()
        reply = reply_to(client, reply_id)
        assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
        printed = ""
        while True:
            message = client.get_iopub_msg(timeout=120)
            if message["parent_header"].get("msg_id") != reply_id:
                continue
            if message["msg_type"] == "stream":
                printed += message["content"]["text"]
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        assert "nbmnist: stopping once Keras and" in printed  # held, not broken
        status, out = run_next(client, "%%mlp second --epochs 1 --no-live\ndense 8")
        assert status == "ok" and "second: test_loss" in out
