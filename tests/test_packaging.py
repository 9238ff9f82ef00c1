"""The files around the package stay in step with it."""

from __future__ import annotations

import os
import re
import tomllib

from nbmnist.data import SAMPLE_DIR, SPLITS
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[; ]", req.strip(), maxsplit=1)[0].lower() for req in requirements}


def test_binder_installs_every_runtime_and_notebook_dependency() -> None:
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    binder = names([ln for ln in lines if ln.strip() and not ln.startswith("#")])
    project = PYPROJECT["project"]
    needed = names(project["dependencies"]) | names(project["optional-dependencies"]["notebook"])
    assert needed <= binder, needed - binder


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "make test" in (REPO / "README.md").read_text()


def test_sample_files_and_checksums_ship_with_the_package() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["nbmnist"]
    assert "_sample/*/*.gz" in data and "_sample/SHA256SUMS" in data
    sums = (SAMPLE_DIR / "SHA256SUMS").read_text().split("\n")
    for folder in ("mnist", "fashion-mnist"):
        for fname in SPLITS.values():
            assert (SAMPLE_DIR / folder / f"{fname}.gz").is_file()
            assert any(line.endswith(f"  {folder}/{fname}") for line in sums)


def test_only_core_ipywidgets_no_custom_widget_manager() -> None:
    """Colab shows core ipywidgets without enable_custom_widget_manager(); nbmnist defines
    no widget class of its own and never asks for one."""
    source = "\n".join(p.read_text() for p in (REPO / "nbmnist").rglob("*.py"))
    assert "enable_custom_widget_manager" not in source
    assert not re.search(
        r"class \w+\((widgets\.|ipywidgets\.)?(DOMWidget|Widget|ValueWidget)\b", source
    )
    assert "_model_module" not in source and "_view_module" not in source
    used = set(re.findall(r"widgets\.(\w+)\(", source))
    import ipywidgets

    assert used and all(
        getattr(ipywidgets, name).__module__.startswith("ipywidgets.") for name in used
    )


def test_binder_post_build_installs_nbmnist_and_fetches_both_datasets() -> None:
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build
    assert 'for name in ("mnist", "fashion_mnist")' in post_build
    assert "load_dataset(name)" in post_build
    assert os.access(REPO / "binder" / "postBuild", os.X_OK)
