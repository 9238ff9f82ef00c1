"""The lesson notebook runs headless, top to bottom, in fast mode (as CI and graders run it)."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest

from nbmnist.__main__ import execute_notebook, main
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "01_mlp_mnist.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    out = tmp_path_factory.mktemp("build")
    notebook_path, html = execute_notebook(NOTEBOOK, out, fast=True, timeout=300)
    return nbformat.read(notebook_path, as_version=4), html


def outputs_of(cell: nbformat.NotebookNode) -> tuple[str, set[str]]:
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    kinds = {kind for o in cell.outputs for kind in o.get("data", {})}
    return text, kinds


def test_every_model_cell_trains_and_shows_static_curves(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _ = executed
    training = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("%%mlp")]
    assert len(training) == 9  # the seed's nine MLPs
    for cell in training:
        name = cell.source.split()[1]
        text, kinds = outputs_of(cell)
        assert f"{name}: test_loss" in text, cell.source
        assert "fast mode (NBMNIST_FAST)" in text
        assert "image/png" in kinds  # the curves, readable without a kernel
        assert "application/vnd.jupyter.widget-view+json" in kinds  # the live dashboard
        assert not any(o.output_type == "error" for o in cell.outputs)
        stderr = "".join(o.text for o in cell.outputs if o.get("name") == "stderr")
        assert "I0000" not in stderr and "E0000" not in stderr  # TensorFlow's C++ chatter
        assert len(text.splitlines()) < 100


def test_closes_with_violins_table_and_generated_conclusions(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, html = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    violins = next(c for c in code if "plot_weight_violins" in c.source)
    png = base64.b64decode(violins.outputs[0]["data"]["image/png"])
    assert png[:4] == b"\x89PNG" and len(violins.outputs) == 1  # shown exactly once
    table = next(c for c in code if "summary_table" in c.source)
    table_html = table.outputs[0]["data"]["text/html"]
    assert table_html.count("<tr>") == 10  # header + nine runs
    for name in ("relu_2h", "relu_3h_d25", "relu_5h_mse"):
        assert name in table_html
    conclusions, _ = outputs_of(code[-1])
    assert conclusions.startswith("Best:  ")
    assert html.is_file() and "relu_5h_mse" in html.read_text()


def test_cli_rejects_a_missing_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "no-such.ipynb"])
    assert "no such notebook" in capsys.readouterr().err
