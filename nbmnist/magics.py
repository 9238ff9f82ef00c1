"""``%%mlp`` and ``%%cnn``: glue only. Flags -> options, body -> declaration, then ``train``."""

from __future__ import annotations

import builtins
import keyword
import re
import types
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Integer, TraitError, Unicode, validate

from nbmnist.backend import use_backend
from nbmnist.declaration import Kind, parse_declaration
from nbmnist.declaration.vocabulary import LAYER_WORDS
from nbmnist.errors import BackendError, OptionError
from nbmnist.keras_code import to_keras_code
from nbmnist.options import TrainingOptions, flags
from nbmnist.recipes import recipe
from nbmnist.runs import Run, RunStore
from nbmnist.sweep import parse_grid, sweep
from nbmnist.tables import summary_table
from nbmnist.training import train


def _check_not_shadowing(name: str, namespace: dict[str, Any]) -> None:
    """Refuse a run name that would rebind something the notebook needs: ``nbmnist``, a
    builtin, or a variable holding anything but a run (a module, a function, data).

    Raises:
        UsageError: one line naming what the name holds.
    """
    if name == "nbmnist" or (name not in namespace and hasattr(builtins, name)):
        what = "the nbmnist module" if name == "nbmnist" else f"Python's built-in {name}"
    elif name in namespace and not _holds_runs(namespace[name]):
        value = namespace[name]
        kind = "a module" if isinstance(value, types.ModuleType) else type(value).__name__
        what = f"the notebook's {name!r} ({kind})"
    else:
        return
    raise UsageError(f"run name {name!r} would replace {what}; choose another name")


def _holds_runs(value: Any) -> bool:
    """A run, or a sweep's list of runs: what a training cell binds its name to."""
    return isinstance(value, Run) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Run) for v in value)
    )


def _check_expanded(kind: str, line: str, namespace: dict[str, Any]) -> None:
    """IPython has already replaced {name} in the magic line; one left means the name was not
    defined (IPython then keeps the whole line as typed)."""
    leftovers = re.findall(r"\{([^{}]*)\}", line)
    undefined = [name for name in leftovers if name.isidentifier() and name not in namespace]
    if undefined:
        raise UsageError(f"%%{kind}: undefined name '{undefined[0]}' in the magic line")
    if leftovers:
        raise UsageError(
            f"%%{kind}: cannot read {{{leftovers[0]}}} in the magic line; "
            "write {name} with a defined name"
        )


def _with_recipe(
    kind: Kind, name: str, cell: str, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The recipe's model (if the body declares no layer) and options (flags given win)."""
    try:
        preset = recipe(name)
    except OptionError as err:
        raise UsageError(f"%%{kind}: {err}") from err
    if preset.kind != kind:
        raise UsageError(f"%%{kind}: recipe {name!r} is a %%{preset.kind} recipe")
    # IPython will not run a cell magic with an empty body, so a body of only comments (or
    # blank lines) stands for "no model of my own": the recipe's model is trained.
    declares = any(line.split("#", 1)[0].strip() for line in cell.splitlines())
    return (cell if declares else preset.declaration), {**preset.options, **options}


#: The magics' own flags; the training options' flags are generated (``options.flags``).
_FLAGS = (
    argument("name", nargs="?", help="the run's name and variable (default: mlp_1, cnn_1, ...)"),
    *(argument(flag, **keywords) for flag, keywords in flags()),
    argument(
        "--recipe",
        help="a preset (fast: 99%% on MNIST in 20 s on 2 CPU cores); a body of only comments "
        "trains the preset's model",
    ),
    argument(
        "--grid",
        action="append",
        metavar="NAME=V1,V2,...",
        help="train one model per value of {NAME} in the body (repeat for a product grid)",
    ),
    argument(
        "--show-code",
        action="store_true",
        help="print the plain Keras code this cell means, instead of training",
    ),
)


def _training_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag in reversed(_FLAGS):
        func = flag(func)
    return magic_arguments()(func)


@magics_class
class NbmnistMagics(Magics):
    """Declare, train and record Keras models on MNIST from a cell. Configure with
    ``%config NbmnistMagics.fast = True`` (or ``.live``, ``.seed``, ``.runs_dir``,
    ``.backend``)."""

    fast = Bool(
        None,
        allow_none=True,
        help="Train on the bundled sample with at most 2 epochs (default: NBMNIST_FAST).",
    ).tag(config=True)
    live = Bool(True, help="Show the live dashboard in notebooks.").tag(config=True)
    seed = Integer(None, allow_none=True, help="Seed for runs that give no --seed.").tag(
        config=True
    )
    runs_dir = Unicode(
        None,
        allow_none=True,
        help="Run store folder (default: NBMNIST_RUNS or ./nbmnist-runs); on Colab a "
        "Google Drive folder keeps runs across sessions.",
    ).tag(config=True)
    backend = Unicode(
        None,
        allow_none=True,
        help="Keras backend of this kernel: tensorflow, jax or torch. Set it before the first "
        "training cell (default: KERAS_BACKEND, ~/.keras/keras.json, else TensorFlow).",
    ).tag(config=True)

    @validate("backend")
    def _use_backend(self, proposal: Any) -> str | None:
        """Choose the backend now; an unknown one, or a switch after Keras has loaded, is
        refused with a one-line ``BackendError`` message (restart the kernel to switch)."""
        if proposal["value"] is None:
            return None
        try:
            use_backend(proposal["value"])
        except BackendError as err:
            raise TraitError(f"{type(err).__name__}: {err}") from err  # traitlets rolls back
        return str(proposal["value"]).strip().lower()

    def _train(self, kind: Kind, line: str, cell: str, magic: Callable[..., Any]) -> None:
        namespace = self.shell.user_ns if self.shell is not None else {}
        _check_expanded(kind, line, namespace)
        args = parse_argstring(magic, line)
        name = args.name
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise UsageError(
                f"run name {name!r} is not a Python name; use letters, digits and _ (e.g. relu_2h)"
            )
        if name is not None:
            _check_not_shadowing(name, namespace)
        if self.backend:
            use_backend(self.backend)  # Keras may have been imported on another one since
        options = TrainingOptions.from_flags(vars(args))
        if args.recipe:
            cell, options = _with_recipe(kind, args.recipe, cell, options)
        options["live"] = self.live and options.get("live", True)
        if self.fast is not None:
            options.setdefault("fast", self.fast)
        if self.seed is not None:
            options.setdefault("seed", self.seed)
        if self.runs_dir:
            options.setdefault("runs_dir", self.runs_dir)
        try:
            if args.show_code:
                options.pop("live")
                declaration = parse_declaration(cell, kind, namespace)
                print(to_keras_code(declaration, name=name, **options), end="")
            elif args.grid:
                base = name or f"{kind}_sweep"
                runs = sweep(
                    cell, kind, base, parse_grid(args.grid), variables=namespace, **options
                )
                namespace[base] = runs
            else:
                run = train(cell, kind, name, variables=namespace, **options)
                namespace[run.name] = run
                if name is not None:
                    namespace[name] = (
                        run  # a renamed re-run (name_2) still answers to its cell's name
                    )
        except OptionError as err:
            raise UsageError(f"%%{kind}: {err}") from err

    @line_magic
    def nbmnist_runs(self, line: str) -> Any:
        """List the runs saved in the run store: ``%nbmnist_runs [FOLDER]``.

        Without FOLDER: ``%config NbmnistMagics.runs_dir``, ``$NBMNIST_RUNS`` or
        ``./nbmnist-runs``. Bring them back as objects with ``nbmnist.load_runs(FOLDER)``.
        """
        store = RunStore.default(line.strip() or self.runs_dir or None)
        runs = list(store)
        if not runs:
            print(f"no runs in {store.root}")
            return None
        columns = ["name", "architecture", "epochs", "data", "test accuracy", "status"]
        return summary_table(runs, columns=columns, title=f"{len(runs)} runs in {store.root}")

    @_training_flags
    @cell_magic
    def mlp(self, line: str, cell: str) -> None:
        """Train a multi-layer perceptron declared in the cell body (input: 784 pixels).

        Example::

            %%mlp relu_2h --epochs 22 --validation test
            430 322 relu he_normal bn dropout=0.5

        The same model written out, one layer per line::

            %%mlp relu_2h --epochs 22 --validation test
            dense 430 relu he_normal | bn | dropout 0.5
            dense 322 relu he_normal | bn | dropout 0.5

        GRAMMAR
        """
        self._train("mlp", line, cell, self.mlp)

    @_training_flags
    @cell_magic
    def cnn(self, line: str, cell: str) -> None:
        """Train a convolutional network declared in the cell body (input: 28x28x1 images).

        Example::

            %%cnn keras_example --epochs 12 --optimizer adadelta --learning-rate 1.0
            conv 32 3x3 relu
            conv 64 3x3 relu
            maxpool 2
            dropout 0.25
            flatten
            dense 128 relu
            dropout 0.5

        GRAMMAR
        """
        self._train("cnn", line, cell, self.cnn)


GRAMMAR = "\n        ".join(
    [
        "Declaration language (one layer per line; full reference: docs/declarations.md)::",
        "",
        *(f"    {word.syntax}" for word in LAYER_WORDS),
        "    ACTIVATION                   (relu, softmax, tanh, ...: an Activation layer)",
        "    A | B | C                    several layers on one line",
        "    LINE xN                      the line repeated N times",
        "    UNITS UNITS ... [ACTIVATION] [INITIALIZER] [bn] [dropout=RATE]   (%%mlp only)",
        "    {name}                       the value of a notebook variable",
        "    # comment",
        "",
        "If the last layer is not 'dense 10' (optionally followed by its activation),",
        "nbmnist appends 'dense 10 softmax'.",
    ]
)
for _magic in (NbmnistMagics.mlp, NbmnistMagics.cnn):
    _magic.__doc__ = (_magic.__doc__ or "").replace("GRAMMAR", GRAMMAR)
