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


def test_runs_with_the_versions_colab_ships_and_ours() -> None:
    """``make test`` runs the dashboard and magics tests a second time over Colab's versions
    (``NBMNIST_EXPECT_VERSIONS``, e.g. ``ipywidgets==7.7.1 keras==3.13.2``): check that this
    process really has them; in every run, the versions pyproject.toml allows."""
    from importlib.metadata import version

    import IPython
    import ipywidgets
    import keras

    modules = {"ipywidgets": ipywidgets, "keras": keras, "ipython": IPython}
    for pin in os.environ.get("NBMNIST_EXPECT_VERSIONS", "").split():
        name, _, wanted = pin.partition("==")
        assert version(name) == wanted, name
        if name in modules:  # the module imported is that version, not only its metadata
            assert modules[name].__version__ == wanted, name
    assert int(ipywidgets.__version__.split(".")[0]) in (7, 8)
    major, minor = (int(part) for part in keras.__version__.split(".")[:2])
    assert (major, minor) >= (3, 13)
    dependencies = PYPROJECT["project"]["dependencies"]
    assert "ipywidgets>=7.7,<9" in dependencies and "keras>=3.13" in dependencies
    assert "ipython>=7.34" in dependencies
    assert not any(dep.startswith(("tensorflow", "jax", "torch")) for dep in dependencies)
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"tensorflow", "jax", "torch"} <= set(extras)


# Colab's GPU runtime (issue 12, measured 2026-11): what is already installed there. IPython
# 7.34 is google-colab's pin; packages that required IPython 8 broke Colab sessions
# (tira-io/tirex-tracker #75, NeLy-EPFL/flygym #264).
COLAB = {
    "python": "3.13.0",
    "tensorflow": "2.20.0",
    "keras": "3.13.2",
    "jax": "0.7.2",
    "torch": "2.11.0",
    "ipywidgets": "7.7.1",
    "ipython": "7.34.0",
}


def test_the_colab_install_cell_installs_nothing_colab_has() -> None:
    """Every requirement, the backend extras included, admits Colab's own version, so pip
    upgrades nothing there (it installs only what is missing)."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    project = PYPROJECT["project"]
    assert SpecifierSet(project["requires-python"]).contains(COLAB["python"])
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *(r for b in COLAB if b in extras for r in extras[b])]
    for line in requirements:
        requirement = Requirement(line)
        if requirement.name in COLAB:
            assert requirement.specifier.contains(COLAB[requirement.name]), line
    cell = (REPO / "tools" / "build_notebooks.py").read_text()
    assert '%pip install --quiet "nbmnist @ {INSTALL}"' in cell  # no extras, no --upgrade


def _module_imports() -> dict[str, set[str]]:
    """nbmnist module -> the nbmnist modules it imports, at its top or inside a function
    (imports under ``if TYPE_CHECKING`` are for the type checker only), with the packages
    whose ``__init__`` that runs (``nbmnist`` itself, imported first by everything, aside)."""
    import ast

    modules = {}
    for path in (REPO / "nbmnist").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        nodes = list(ast.parse(path.read_text()).body)
        while nodes:
            node = nodes.pop()
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                nodes.extend(node.orelse)
                continue
            nodes.extend(ast.iter_child_nodes(node))
            targets: set[str] = set()
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nbmnist"):
                targets = {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                targets = {alias.name for alias in node.names}
            for target in targets & set(modules):
                graph[name].add(target)
                # importing a.b.c runs a.b's __init__ first, unless this module is inside a.b
                parts = target.split(".")
                for depth in range(2, len(parts)):
                    package = ".".join(parts[:depth])
                    if name != package and not name.startswith(package + "."):
                        graph[name].add(package)
    return graph


def test_the_package_has_no_import_circle() -> None:
    graph = _module_imports()
    assert graph["nbmnist.training"] >= {"nbmnist.plan", "nbmnist.options"}  # sees imports

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for module in graph[start] - seen:
            seen.add(module)
            if module == goal or reaches(module, goal, seen):
                return True
        return False

    circles = [name for name in graph if reaches(name, name, set())]
    assert circles == []


def test_no_module_imports_a_package_above_it() -> None:
    """A module never imports the package it is in (or ``nbmnist`` itself, the user's API):
    the package's ``__init__`` gathers from its modules, never the other way round."""
    graph = _module_imports()
    assert "nbmnist.backend" in graph["nbmnist.training"] | graph["nbmnist.model"]
    upward = [
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if name.startswith(target + ".")
    ]
    assert upward == []


def test_dask_is_imported_only_for_a_dask_executor() -> None:
    """``nbmnist[dask]`` is optional: the magics, sweeps and workers load without it."""
    import subprocess
    import sys

    code = (
        "import sys, nbmnist, nbmnist.magics, nbmnist.sweeps, nbmnist.grading\n"
        "from nbmnist.sweeps.dispatch import dispatch\n"
        "dispatch(None, 1).close()\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask loaded'\n"
        "assert 'keras' not in sys.modules, 'keras loaded'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_function_nbmnist_exports_stays_a_function_once_all_modules_load() -> None:
    """A submodule of the same name would replace a lazily exported function on ``nbmnist``
    once imported (``nbmnist.sweep`` did, after ``%load_ext``)."""
    import importlib
    import pkgutil

    import nbmnist

    for module in pkgutil.walk_packages(nbmnist.__path__, "nbmnist."):
        if module.name != "nbmnist.__main__":
            importlib.import_module(module.name)
    lazy = [
        name for name in nbmnist.__all__ if name[0].islower() and name != "load_ipython_extension"
    ]
    assert "sweep" in lazy
    modules = [name for name in lazy if not callable(getattr(nbmnist, name))]
    assert modules == []
