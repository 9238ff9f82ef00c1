"""The documentation site's generated pages (an ``mkdocs-gen-files`` script, run by
``mkdocs build``): nothing here is written by hand twice.

- ``index.md``: the README, its links made the site's;
- ``lessons/*.ipynb``: each lesson as executed by ``make docs`` (``build/docs/``, in fast mode
  on the bundled sample where the full data is absent, which the notebooks say), else the
  lesson as written (unexecuted: a strict build's check of the pages and links);
- ``reference/options.md``: the training options table, from ``nbmnist.options``;
- ``reference/layers.md``: the layer words, from ``nbmnist.declaration.vocabulary``;
- ``reference/api.md``: the public API, from the docstrings (mkdocstrings).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import mkdocs_gen_files

from nbmnist.declaration.vocabulary import LAYER_WORDS
from nbmnist.options import TrainingOptions, flag_dest

REPO = Path(__file__).resolve().parent.parent
EXECUTED = REPO / "build" / "docs"
REPOSITORY = "https://github.com/nbmnist/nbmnist/blob/main/"
API = [
    "train",
    "sweep",
    "parse_declaration",
    "build_model",
    "to_keras_code",
    "load_dataset",
    "use_data",
    "use_backend",
    "runs",
    "load_runs",
    "Run",
    "RunStore",
    "summary_table",
    "plot_history",
    "plot_weight_violins",
    "plot_weight_history",
    "plot_filters",
    "plot_feature_maps",
    "plot_augmentations",
    "plot_architecture",
    "plot_activation_history",
    "plot_gradient_history",
    "predict",
    "confusion_matrix",
    "per_class_accuracy",
    "misclassified",
    "compare",
    "recipe",
    "lr_find",
]


def index() -> str:
    """The README with its links made the site's: ``docs/x.md`` -> ``x.md``; files outside
    ``docs/`` -> the repository on GitHub."""

    def link(match: re.Match[str]) -> str:
        target = match[1]
        if target.startswith(("http:", "https:", "#")):
            return match[0]
        if target.startswith("docs/"):
            return f"]({target.removeprefix('docs/')})"
        return f"]({REPOSITORY}{target})"

    return re.sub(r"\]\(([^)]+)\)", link, (REPO / "README.md").read_text())


def options() -> str:
    lines = [
        "# Training options",
        "",
        "Every option of `nbmnist.train` and its magic-line flag, generated from",
        "`nbmnist.options.TrainingOptions`.",
        "",
        "| option | flag | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for field in dataclasses.fields(TrainingOptions):
        meta = field.metadata
        flag = "--" + flag_dest(field.name).replace("_", "-")
        flag = "" if meta.get("flag") is None else f"`{flag}`"
        cells = [f"`{field.name}`", flag, str(meta.get("default", "")), str(meta.get("help", ""))]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def layers() -> str:
    lines = [
        "# Layer words",
        "",
        "The keywords of the declaration language, generated from",
        "`nbmnist.declaration.vocabulary.LAYER_WORDS` (the whole language:",
        "[the declaration language](../declarations.md)).",
        "",
        "| keyword | written | Keras layer | also |",
        "| --- | --- | --- | --- |",
    ]
    for word in LAYER_WORDS:
        cells = [
            f"`{word.keyword}`",
            f"`{word.syntax}`",
            f"`keras.layers.{word.keras_class}`",
            ", ".join(f"`{alias}`" for alias in word.aliases),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def api() -> str:
    return "# Python API\n\nGenerated from the docstrings.\n\n" + "\n".join(
        f"::: nbmnist.{name}\n" for name in API
    )


def main() -> None:
    with mkdocs_gen_files.open("index.md", "w") as page:
        page.write(index())
    for lesson in sorted((REPO / "notebooks").glob("*.ipynb")):
        executed = EXECUTED / lesson.name
        source = executed if executed.is_file() else lesson
        with mkdocs_gen_files.open(f"lessons/{lesson.name}", "w") as page:
            page.write(source.read_text())
    for name, text in (("options", options()), ("layers", layers()), ("api", api())):
        with mkdocs_gen_files.open(f"reference/{name}.md", "w") as page:
            page.write(text)


main()
