"""The README's pictures, from real runs: never drawn by hand.

- ``docs/images/dashboard.png``: the training cell's output in JupyterLab mid-training, as
  the browser test (``tests/test_jupyterlab.py``, ``make test-browser``) screenshots it into
  ``build/e2e/dashboard.png``;
- ``docs/images/violins.png``: the weight violins lesson 01 ends with, from an executed
  lesson 01: ``make docs`` passes the one it executes in fast mode on the bundled sample
  (``build/docs/01_mlp_mnist.ipynb``), as the README's captions say.

``make docs`` runs it after the browser test and the lessons; alone:
``.venv/bin/python tools/readme_pictures.py [EXECUTED_NOTEBOOK]`` (default: what ``make demo``
writes, ``build/01_mlp_mnist.ipynb``).
"""

from __future__ import annotations

import base64
import shutil
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"


def violins(executed: Path) -> bytes:
    """The PNG of the first cell of ``executed`` that plots weight violins.

    Raises:
        SystemExit: no such cell with a PNG output (the notebook was not executed).
    """
    notebook = nbformat.read(executed, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "plot_weight_violins" in cell.source:
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    return base64.b64decode(png)
    raise SystemExit(f"{executed}: no weight violins with a picture; run make demo first")


def main(argv: list[str]) -> None:
    executed = Path(argv[0]) if argv else REPO / "build" / "01_mlp_mnist.ipynb"
    IMAGES.mkdir(parents=True, exist_ok=True)
    screenshot = REPO / "build" / "e2e" / "dashboard.png"
    if not screenshot.is_file():
        sys.exit(f"{screenshot} is missing; run make test-browser first")
    shutil.copyfile(screenshot, IMAGES / "dashboard.png")
    (IMAGES / "violins.png").write_bytes(violins(executed))
    print(f"wrote {IMAGES / 'dashboard.png'} and {IMAGES / 'violins.png'}")


if __name__ == "__main__":
    main(sys.argv[1:])
