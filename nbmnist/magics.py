"""``%%mlp`` and ``%%cnn``: glue only. Flags -> options, body -> declaration, then ``train``."""

from __future__ import annotations

import builtins
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Any as AnyTrait
from traitlets import Bool, Integer, TraitError, Unicode, validate

from nbmnist.backend import use_backend
from nbmnist.data import data_shape, known_name, use_data
from nbmnist.declaration import Kind, parse_declaration
from nbmnist.declaration.vocabulary import LAYER_WORDS
from nbmnist.errors import (
    BackendError,
    DataError,
    OptionError,
    PlaceholderError,
    TrainingInterrupted,
    did_you_mean,
)
from nbmnist.keras_code import to_keras_code
from nbmnist.options import TrainingOptions, flags, make_options
from nbmnist.recipes import recipe
from nbmnist.runs import (
    Run,
    Runs,
    RunStore,
    RunStoreError,
    check_run_name,
    load_runs,
    point_name,
)
from nbmnist.sweeps import Range, parse_grid, points, sweep
from nbmnist.tables import summary_table
from nbmnist.training import train

#: Names IPython's own magics look up among the notebook's variables before their own:
#: IPython 7's ``%config`` (Colab ships 7.34) runs ``exec("cfg." + line, locals(), user_ns)``,
#: so with a run (or a sweep's list) bound to ``cfg`` every later ``%config`` line fails
#: with "'list' object has no attribute 'NbmnistMagics'". Refused on every IPython, so that
#: a notebook written in JupyterLab (IPython 8 or 9) runs on Colab as it is.
IPYTHON_NAMES = {
    "cfg": "%config on IPython 7 (Colab's): it finds a notebook's 'cfg' before its own"
}


def _check_not_shadowing(name: str, namespace: dict[str, Any]) -> None:
    """Refuse a run name that would rebind something the notebook needs: ``nbmnist``, a
    builtin, a variable holding anything but a run (a module, a function, data), or a name
    an IPython magic needs free (``IPYTHON_NAMES``).

    Raises:
        UsageError: one line naming what the name holds.
    """
    if name in IPYTHON_NAMES:
        raise UsageError(
            f"run name {name!r} would break {IPYTHON_NAMES[name]}; choose another name"
        )
    if name == "nbmnist" or (name not in namespace and hasattr(builtins, name)):
        what = "the nbmnist module" if name == "nbmnist" else f"Python's built-in {name}"
    elif name in namespace and not _holds_runs(namespace[name]):
        value = namespace[name]
        kind = "a module" if isinstance(value, types.ModuleType) else type(value).__name__
        what = f"the notebook's {name!r} ({kind})"
    else:
        return
    raise UsageError(f"run name {name!r} would replace {what}; choose another name")


class UnfinishedRun:
    """What a training cell whose body is still a grader's placeholder binds its name to, so
    that a test of it (``relu_3h.status``, ``check_training(relu_3h)``) fails with the cell's
    ``PlaceholderError`` instead of ``NameError: name 'relu_3h' is not defined``.

    Raises:
        PlaceholderError: on reading any public attribute.
    """

    def __init__(self, name: str, reason: str) -> None:
        self._name, self._reason = name, reason

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # IPython's display and introspection probe these
            raise AttributeError(attribute)
        raise PlaceholderError(f"{self._name} was not trained: {self._reason}")

    def __repr__(self) -> str:
        return f"<{self._name}: not trained yet; {self._reason}>"


def _holds_runs(value: Any) -> bool:
    """A run, or a sweep's list of runs: what a training cell binds its name to (or, while
    its body is a placeholder, an ``UnfinishedRun``)."""
    return isinstance(value, (Run, UnfinishedRun)) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Run) for v in value)
    )


def without_comment(line: str) -> str:
    """The magic line without a trailing ``# comment``, as Python reads one (a ``#`` that
    starts a word)."""
    return re.sub(r"(^|\s)#.*$", "", line).rstrip()


def _placeholders(line: str) -> list[str]:
    return re.findall(r"\{([^{}]*)\}", line)


def _check_expanded(
    kind: str, line: str, namespace: dict[str, Any], allowed: frozenset[str] = frozenset()
) -> None:
    """IPython has already replaced {name} in the magic line; one left means the name was not
    defined (IPython then keeps the whole line as typed), unless it is a grid name
    (``allowed``), whose value each point puts in."""
    leftovers = [name for name in _placeholders(line) if name not in allowed]
    undefined = [name for name in leftovers if name.isidentifier() and name not in namespace]
    if undefined:
        raise UsageError(f"%%{kind}: undefined name '{undefined[0]}' in the magic line")
    if leftovers:
        raise UsageError(
            f"%%{kind}: cannot read {{{leftovers[0]}}} in the magic line; "
            "write {name} with a defined name"
        )


def _first_values(grid: dict[str, list[str] | Range]) -> list[dict[str, str]]:
    """A point to check and show the code of: the grid's first, or a range's low end."""
    return [
        {
            name: (values[0] if isinstance(values, list) else f"{values.low:g}")
            for name, values in grid.items()
        }
    ]


def _with_values(
    flags: dict[str, Any], point: dict[str, str], namespace: dict[str, Any]
) -> dict[str, Any]:
    """The parsed flags with each ``{name}`` in their text replaced by the point's value
    (grid names) or the notebook's (others, as IPython would have)."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        return point[name] if name in point else str(namespace.get(name, match[0]))

    return {
        dest: re.sub(r"\{(\w+)\}", value, given) if isinstance(given, str) else given
        for dest, given in flags.items()
    }


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
        help="a preset (fast: the quickest way to 99%% on MNIST); a body of only comments "
        "trains the preset's model",
    ),
    argument(
        "--grid",
        action="append",
        metavar="NAME=V1,V2,...",
        help="train one model per value of {NAME} in the body (repeat for a product grid)",
    ),
    argument(
        "--search",
        choices=("grid", "random"),
        default=None,
        help="with --grid: every point (grid, the default) or --trials points drawn at random "
        "(ranges such as lr=1e-4..1e-2:log allowed), seeded by --seed",
    ),
    argument("--trials", type=int, help="points to sample with --search random"),
    argument(
        "--workers",
        type=int,
        help="with --grid: points trained at once in a local process pool (default: one per "
        "GPU, else one per 4 CPU cores)",
    ),
    argument(
        "--executor",
        help="with --grid: where points train: processes (default), dask://HOST:8786 (a Dask "
        "cluster) or kernel (one after another in this kernel)",
    ),
    argument(
        "--show-code",
        action="store_true",
        help="print the plain Keras code this cell means, instead of training",
    ),
    argument(
        "--find-learning-rate",
        action="store_true",
        help="instead of training: the learning-rate range test (a fresh copy of the model, "
        "the rate growing each batch), its plot and a suggested --learning-rate",
    ),
)


@dataclass(frozen=True)
class TrainingCell:
    """A ``%%mlp`` / ``%%cnn`` cell, parsed: what to train and how, and which of the three
    things it asks for (print the Keras code, sweep a grid, train one model).

    Attributes:
        kind: ``"mlp"`` or ``"cnn"``.
        name: the run name given, or None (``mlp_1``, ...).
        body: the declaration (a recipe's when the cell declares no layer).
        options: training options as ``train`` takes them (flags, recipe, ``%config``).
        grid: ``--grid`` values (or ranges) by name, or None.
        show_code: ``--show-code``.
        find_learning_rate: ``--find-learning-rate`` (``nbmnist.lr_find``).
        sweep: how a grid is swept: ``search``, ``trials``, ``executor``, ``workers``
            (``nbmnist.sweep``'s keywords; ``%config`` defaults included).
        point_options: a grid point's own options, from the magic line's ``{name}`` flags
            (``--learning-rate {lr}``), or None.
        line_names: the grid names the magic line uses.
    """

    kind: Kind
    name: str | None
    body: str
    options: dict[str, Any]
    grid: dict[str, list[str] | Range] | None = None
    show_code: bool = False
    sweep: dict[str, Any] = field(default_factory=dict)
    point_options: Callable[[dict[str, str]], dict[str, Any]] | None = None
    line_names: frozenset[str] = frozenset()
    find_learning_rate: bool = False

    @classmethod
    def parse(
        cls,
        kind: Kind,
        line: str,
        body: str,
        namespace: dict[str, Any],
        magic: Callable[..., Any],
        config: NbmnistMagics,
    ) -> TrainingCell:
        """Check and parse the magic line; ``config`` gives ``%config`` defaults.

        Raises:
            UsageError: an undefined ``{name}``, a bad run name or flag.
            OptionError: a bad recipe or grid.
        """
        line = without_comment(line)
        args = _parse_flags(magic, line)  # once: values as text, {name} placeholders kept
        grid = parse_grid(args.grid) if args.grid else None
        line_names = frozenset(_placeholders(line)) & set(grid or {})
        _check_expanded(kind, line, namespace, allowed=line_names)
        first = next(iter(_first_values(grid or {})), {}) if line_names else {}
        flags = vars(args)
        _own_data(args.data, namespace)
        try:
            options = TrainingOptions.from_flags(_with_values(flags, first, namespace))
        except OptionError as err:
            raise UsageError(str(err)) from None
        if args.name is not None:
            try:
                check_run_name(args.name, variable=True)
            except RunStoreError as err:
                raise UsageError(str(err)) from err
            _check_not_shadowing(args.name, namespace)
        if args.recipe:
            body, options = _with_recipe(kind, args.recipe, body, options)
        options["live"] = config.live and options.get("live", True)
        defaults = {
            "fast": config.fast,
            "seed": config.seed,
            "runs_dir": config.runs_dir,
            "data_source": config.data_source,
        }
        options.update({k: v for k, v in defaults.items() if v is not None and k not in options})
        sweep_options = {
            "search": args.search or "grid",
            "trials": args.trials,
            "executor": config.executor if args.executor is None else args.executor,
            "workers": config.workers if args.workers is None else args.workers,
        }
        if args.find_learning_rate and (grid or args.show_code):
            raise UsageError(
                f"%%{kind}: --find-learning-rate tests one model and trains nothing; leave "
                "out --grid and --show-code"
            )
        given = [args.search, args.trials, args.workers, args.executor]
        if not grid and any(value is not None for value in given):
            raise UsageError(
                f"%%{kind}: --search, --trials, --workers and --executor are for sweeps; "
                "add --grid NAME=V1,V2,..."
            )
        point_options = None
        if line_names:

            def point_options(point: dict[str, str]) -> dict[str, Any]:
                return TrainingOptions.from_flags(_with_values(flags, point, namespace))

        return cls(
            kind,
            args.name,
            body,
            options,
            grid,
            args.show_code,
            sweep_options,
            point_options,
            line_names,
            args.find_learning_rate,
        )

    @property
    def sweep_name(self) -> str:
        """A sweep's base name: the cell's, else ``mlp_sweep`` / ``cnn_sweep``."""
        return self.name or f"{self.kind}_sweep"

    def run(self, namespace: dict[str, Any]) -> None:
        """Do what the cell asks; bind the run (or a sweep's runs) to its name.

        Raises:
            PlaceholderError: the body is blank: IPython 7 (Colab's) strips a line that is
                just ``...`` (a grader's placeholder) as a continuation prompt.
        """
        if not self.body.strip():
            raise PlaceholderError(
                "the cell's body is empty (or '...', which IPython 7 removes): fill it in "
                "with the layers to build, e.g. 'dense 128 relu'"
            )
        if self.find_learning_rate:
            from IPython.display import display

            from nbmnist.lr_range import lr_find

            options = {k: v for k, v in self.options.items() if k not in ("live", "overwrite")}
            found = lr_find(self.body, self.kind, variables=namespace, **options)
            found.name = self.name or f"%%{self.kind}"
            display(found)
            print(
                f"{found.name}: the loss fell steepest at learning rate {found.suggestion:.2g} "
                f"({len(found.losses)} batches from {found.learning_rates[0]:.0e} to "
                f"{found.learning_rates[-1]:.0e}); try --learning-rate {found.suggestion:.2g}"
            )
        elif self.show_code:
            variables = namespace
            options = {k: v for k, v in self.options.items() if k != "live"}
            if self.grid:  # the first point's code, the grid said
                grid_points = _first_values(self.grid)
                variables = {**namespace, **grid_points[0]}
                first = point_name(self.sweep_name, grid_points[0])
                ranged = any(isinstance(v, Range) for v in self.grid.values())
                count = "" if ranged else f"{len(points(self.grid))} points; "
                print(f"# --grid: {count}the code of the first, {first}")
                if self.point_options is not None:
                    options.update(self.point_options(grid_points[0]))
            image_shape = data_shape(make_options(**options).data)[0]
            declaration = parse_declaration(self.body, self.kind, variables, image_shape)
            print(to_keras_code(declaration, name=self.name, **options), end="")
        elif self.grid:
            try:
                runs = sweep(
                    self.body,
                    self.kind,
                    self.sweep_name,
                    self.grid,
                    variables=namespace,
                    point_options=self.point_options,
                    line_names=self.line_names,
                    **self.sweep,
                    **self.options,
                )
            except TrainingInterrupted as stop:
                if stop.result:  # an empty list would not be a sweep's runs next time
                    namespace[self.sweep_name] = stop.result
                    stop.name = self.sweep_name
                raise
            namespace[self.sweep_name] = runs
            if runs:  # a changed cell trained sw_2[...]: it answers to sw_2 too
                namespace[runs[0].name.split("[", 1)[0]] = runs
        else:
            try:
                run = train(self.body, self.kind, self.name, variables=namespace, **self.options)
            except TrainingInterrupted as stop:
                stop.name = self._bind(stop.result, namespace)
                raise
            self._bind(run, namespace)

    def _bind(self, run: Run, namespace: dict[str, Any]) -> str:
        """Bind ``run`` under its name and the cell's (a renamed re-run, ``name_2``, answers
        to the name given too). Returns the name the cell gave, else the run's."""
        namespace[run.name] = run
        if self.name is not None:
            namespace[self.name] = run
        return self.name or run.name


def _own_data(name: str | None, namespace: dict[str, Any]) -> None:
    """``--data NAME`` naming a notebook variable (not a known dataset): its arrays become
    own data under that name (``data.use_data``), checked before anything trains.

    Raises:
        UsageError: the variable's value is not image data ``use_data`` takes.
    """
    if not name or known_name(name) is not None or name not in namespace:
        return
    try:
        use_data(namespace[name], name=name, where=f"--data {name}")
    except DataError as err:
        raise UsageError(str(err)) from None


#: Other spellings users type for a flag (from Keras' names and other tools): the error for
#: one names the flag. Flags are never abbreviated (``--lr`` was taken as ``--lr-schedule``).
FLAG_ALIASES = {
    "--lr": "--learning-rate",
    "--learningrate": "--learning-rate",
    "--bs": "--batch-size",
    "--batchsize": "--batch-size",
    "--epoch": "--epochs",
    "--optim": "--optimizer",
    "--val-split": "--validation-split",
    "--dataset": "--data",
}


def bind_runs(runs: Runs, namespace: dict[str, Any]) -> str:
    """Bind ``runs`` in ``namespace`` as their cells did: each run under its name, a sweep's
    points (``drop[rate=0.1]``...) as one list under the sweep's name. Names that would
    rebind something else (see ``_check_not_shadowing``) are skipped. Returns one line
    saying what was bound."""
    groups: dict[str, list[Run]] = {}
    for run in runs.by_name().values():
        groups.setdefault(run.name.split("[", 1)[0], []).append(run)  # a point: its sweep
    bound, skipped = [], []
    for name, group in groups.items():
        value: Any = group if "[" in group[0].name else group[0]
        try:
            check_run_name(name, variable=True)
            _check_not_shadowing(name, namespace)
        except (RunStoreError, UsageError):
            skipped.append(name)
            continue
        namespace[name] = value
        bound.append(name if isinstance(value, Run) else f"{name} ({len(group)} points)")
    text = f"bound {len(bound)}: {', '.join(bound)}" if bound else "bound none"
    return text + (f"; skipped (would rebind other names): {', '.join(skipped)}" if skipped else "")


def _training_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    for flag in reversed(_FLAGS):
        func = flag(func)
    # IPython's help puts one % before the name: the usage line then says %%mlp
    func = magic_arguments(name=f"%{func.__name__}")(func)
    func.parser.allow_abbrev = False  # type: ignore[attr-defined]  # read when parsing
    return func


def _help(magic: Callable[..., Any]) -> str:
    """The magic's ``--help`` text (its flags, from IPython's ``magic_arguments`` parser)."""
    return str(magic.parser.format_help())  # type: ignore[attr-defined]


def known_flags(magic: Callable[..., Any] | None = None) -> list[str]:
    """The flags of ``%%mlp`` (and ``%%cnn``: the same), as their ``--help`` lists them."""
    help_text = _help(magic or NbmnistMagics.mlp)
    return list(dict.fromkeys(re.findall(r"(?<![\w-])--[a-z][\w-]*", help_text)))


def _parse_flags(magic: Callable[..., Any], line: str) -> Any:
    """The magic line's flags (``parse_argstring``); an unknown flag names the one meant.

    Raises:
        UsageError: one line.
    """
    try:
        return parse_argstring(magic, line)
    except UsageError as err:
        unknown = re.search(r"unrecognized arguments: (-\S+)", str(err))
        if unknown is None:
            raise
        flag = unknown[1].split("=")[0]
        known = known_flags(magic)
        meant = FLAG_ALIASES.get(flag.lower())
        starting = [name for name in known if name.startswith(flag)]
        if meant:
            hint = f" Use {meant}."
        elif starting:
            hint = f" Flags are never abbreviated: write {' or '.join(starting)}."
        else:
            hint = did_you_mean(flag, known)
        raise UsageError(f"unknown flag {flag}.{hint}") from err


@magics_class
class NbmnistMagics(Magics):
    """Declare, train and record Keras models on MNIST from a cell. Configure with
    ``%config NbmnistMagics.fast = True`` (or ``.live``, ``.seed``, ``.runs_dir``,
    ``.data_source``,
    ``.backend``, and for sweeps ``.executor`` and ``.workers``)."""

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
    data_source = Unicode(
        None,
        allow_none=True,
        help="Where the data comes from for cells that give no --data-source: 'sample', "
        "'download' or a folder (default: a local copy, else the download, else the sample).",
    ).tag(config=True)
    backend = Unicode(
        None,
        allow_none=True,
        help="Keras backend of this kernel: tensorflow, jax or torch. Set it before the first "
        "training cell (default: KERAS_BACKEND, ~/.keras/keras.json, else TensorFlow).",
    ).tag(config=True)

    executor = AnyTrait(
        None,
        allow_none=True,
        help="Where a sweep's points train: 'processes' (a local process pool, the default), "
        "'dask://HOST:8786' or a distributed.Client (a Dask cluster), any "
        "concurrent.futures.Executor, or 'kernel' (one after another in this kernel).",
    ).tag(config=True)
    workers = Integer(
        None,
        allow_none=True,
        help="Points a sweep trains at once in the local process pool (default: one per GPU, "
        "else one per 4 CPU cores).",
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
        if self.backend:
            use_backend(self.backend)  # Keras may have been imported on another one since
        try:
            parsed = TrainingCell.parse(kind, line, cell, namespace, magic, self)
        except OptionError as err:
            raise UsageError(f"%%{kind}: {err}") from err
        try:
            parsed.run(namespace)
        except OptionError as err:
            raise UsageError(f"%%{kind}: {err}") from err
        except PlaceholderError as err:
            name = parsed.sweep_name if parsed.grid else parsed.name
            # the name holds nothing, or an UnfinishedRun (parse refused anything but runs);
            # a run it holds is kept
            if name is not None and not isinstance(namespace.get(name), (Run, list)):
                namespace[name] = UnfinishedRun(name, str(err))
            raise

    @magic_arguments()
    @argument(
        "folder",
        nargs="?",
        help="the run store (default: runs_dir, NBMNIST_RUNS or ./nbmnist-runs)",
    )
    @argument(
        "--bind",
        action="store_true",
        help="also put the runs back in the notebook under their names (a sweep's points as "
        "one list under the sweep's name), as after the cells that trained them",
    )
    @line_magic
    def nbmnist_runs(self, line: str) -> Any:
        """List the runs saved in the run store; ``--bind`` puts them back in the notebook.

        Bring them back as objects with ``nbmnist.load_runs(FOLDER)`` (a list, also by name).
        """
        args = parse_argstring(self.nbmnist_runs, line)
        store = RunStore.default(args.folder or self.runs_dir or None)
        found = load_runs(store.root) if args.bind else Runs(store)
        if not found:
            print(f"no runs in {store.root}")
            return None
        if args.bind and self.shell is not None:
            print(bind_runs(found, self.shell.user_ns))
        columns = ["name", "architecture", "epochs", "data", "test accuracy", "status"]
        return summary_table(found, columns=columns, title=f"{len(found)} runs in {store.root}")

    @_training_flags
    @cell_magic
    def mlp(self, line: str, cell: str) -> None:
        """Train a multi-layer perceptron declared in the cell body (input: the image's
        pixels as one vector, 784 for MNIST).

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
        """Train a convolutional network declared in the cell body (input: images, 28x28x1
        for MNIST, 32x32x3 for CIFAR-10).

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
