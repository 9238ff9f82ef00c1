"""Summary tables: every cell read from the runs, never typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbmnist import summary_table
from nbmnist.runs import Run, record
from tests.conftest import make_run


def test_summary_table_cells_come_from_the_runs() -> None:
    record(make_run("relu_2h", 0.9856))
    record(make_run("relu_3h", 0.982, test_loss=0.0602, uses_sample=True))
    table = summary_table()
    assert table.field_names[:3] == ["name", "architecture", "optimizer"]
    rows = [dict(zip(table.field_names, row, strict=True)) for row in table.rows]
    assert rows[0]["test accuracy"] == "0.9856"  # the seed typed 0.99 for this run
    assert rows[0]["test loss"] == "0.0515"
    assert rows[1]["test loss"] == "0.0602"
    assert rows[0]["params"] == "482,570" and rows[0]["BN"] == "yes"
    assert rows[0]["dropout"] == "0.5" and rows[0]["loss"] == "crossentropy"
    assert rows[0]["epochs"] == "2" and rows[0]["wall time (s)"] == "79.2"
    assert rows[0]["best val accuracy"] == "0.9856" and rows[0]["best epoch"] == "2"
    assert rows[0]["data"] == "MNIST" and rows[1]["data"] == "MNIST (sample)"
    assert rows[0]["backend"] == "" and table.field_names[-1] == "backend"
    text = table.get_string()
    assert "| relu_2h" in text and "0.9856" in text
    assert "<table>" in table._repr_html_()


def test_backend_column_names_the_backend_and_the_device_kind(tmp_path: Path) -> None:
    jax_gpu = make_run(
        "a",
        0.99,
        environment={"backend": "jax", "jax": "0.7.2", "device": "GPU (NVIDIA H100 80GB HBM3)"},
        execution={"backend": "jax"},
    )
    # a record written before backends were recorded: TensorFlow's version, a device; read as
    # a TensorFlow run
    record = make_run(
        "b", 0.98, environment={"tensorflow": "2.21.0", "device": "CPU (2 cores)"}
    ).to_record()
    old = Run.from_record(record, tmp_path)
    assert old.environment["backend"] == "tensorflow"
    table = summary_table([jax_gpu, old], columns=["name", "backend"])
    assert [row[1] for row in table.rows] == ["jax, GPU", "tensorflow, CPU"]


def test_summary_table_columns_and_sorting() -> None:
    runs = [make_run("a", 0.97), make_run("b", 0.99), make_run("c", 0.98)]
    table = summary_table(runs, columns=["name", "test accuracy"], sort_by="test accuracy")
    assert [row[0] for row in table.rows] == ["b", "c", "a"]
    with pytest.raises(ValueError, match="unknown column 'acc'"):
        summary_table(runs, columns=["acc"])


# Seed 000's nine runs as the seed measured them (its printed "Test score" and "Test
# accuracy"), and the values the seed then typed into its hand-made table.
SEED_000 = [
    ("relu_2h", 0.051465931210145935, 0.9856, "0.99"),
    ("relu_3h", 0.06025076956005068, 0.982, "0.98"),
    ("relu_5h", 0.07917401027954184, 0.9828, "0.98"),
    ("relu_2h_d25", 0.06104755468893745, 0.9838, "0.98"),
    ("relu_3h_d25", 0.06317311227827886, 0.9823, "0.98"),
    ("relu_5h_d25", 0.07041437144926749, 0.9838, "0.98"),
    ("relu_2h_mse", 0.002905523286913556, 0.9819, "0.98"),
    ("relu_3h_mse", 0.0031677277905113464, 0.98, "0.98"),
    ("relu_5h_mse", 0.004310477123901086, 0.9756, "0.98"),
]


def test_seed_000_table_is_rebuilt_from_its_runs() -> None:
    runs = [make_run(name, accuracy, test_loss=loss) for name, loss, accuracy, _ in SEED_000]
    table = summary_table(runs, columns=["name", "test loss", "test accuracy"])
    assert len(table.rows) == 9
    for row, run in zip(table.rows, runs, strict=True):
        assert row == [run.name, f"{run.test_loss:.4f}", f"{run.test_accuracy:.4f}"]
    assert table.rows[0][2] == "0.9856" != SEED_000[0][3]  # the seed typed 0.99 here
    assert table.rows[5][1] == "0.0704"


def test_csv_and_dataframe_keep_full_precision() -> None:
    runs = [make_run(name, accuracy, test_loss=loss) for name, loss, accuracy, _ in SEED_000[:2]]
    table = summary_table(runs)
    csv_text = table.to_csv()
    header, first = csv_text.splitlines()[:2]
    assert header.split(",")[:2] == ["name", "architecture"]
    assert "0.051465931210145935" in first and "482570" in first
    frame = table.to_dataframe()
    assert list(frame.columns) == list(table.field_names)
    assert frame["test accuracy"].tolist() == [0.9856, 0.982]
    assert frame["params"].dtype.kind == "i"


def test_csv_written_to_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "runs.csv"
    text = summary_table([make_run("a", 0.9)]).to_csv(path)
    assert path.read_text() == text


@pytest.mark.parametrize("api", ["TableStyle (PrettyTable >= 3.12)", "constants (3.11)"])
def test_markdown_style_on_both_prettytable_apis(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import prettytable

    if api.startswith("constants"):  # what 3.11 has: module constants, no TableStyle enum
        monkeypatch.setattr(prettytable, "MARKDOWN", prettytable.TableStyle.MARKDOWN, raising=False)
        monkeypatch.delattr(prettytable, "TableStyle")
    text = summary_table([make_run("a", 0.9)], columns=["name", "test accuracy"], style="markdown")
    assert text.get_string().splitlines()[:3] == [
        "| name | test accuracy |",
        "| :----| :-------------|",
        "| a    | 0.9000        |",
    ]
    with pytest.raises(ValueError, match="unknown table style 'fancy'"):
        summary_table([], style="fancy")


def test_missing_values_sort_last() -> None:
    runs = [make_run("a", 0.97), make_run("b", None, status="interrupted"), make_run("c", 0.99)]  # type: ignore[arg-type]
    table = summary_table(runs, columns=["name", "test accuracy"], sort_by="test accuracy")
    assert [row[0] for row in table.rows] == ["c", "a", "b"]
    assert table.rows[2][1] == "n/a"


def test_the_table_says_what_validated() -> None:
    on_test = make_run("on_test", 0.948, options={"validation": "test", "data": "mnist"})
    held_out = make_run("held_out", 0.95)
    table = summary_table([on_test, held_out])
    column = table.field_names.index("validation")
    assert [row[column] for row in table.rows] == ["test set", "split 1/6"]  # an older record


def test_a_split_says_how_many_images_it_held_out() -> None:
    from nbmnist.training import train
    from tests.test_training import Recorder

    run = train("dense 8 relu", display=Recorder(), epochs=1, validation_split=1 / 12)
    assert run.plan["held_out"] == 500  # of the sample's 6,000 training images
    table = summary_table([run], columns=["name", "validation"])
    assert table.rows[0][1] == "500 held out"


def test_a_table_mixing_datasets_says_so() -> None:
    mnist = make_run("m", 0.98)
    fashion = make_run("f", 0.88, options={"data": "fashion_mnist"})
    assert summary_table([mnist, fashion]).title == "mixed datasets: Fashion-MNIST, MNIST"
    assert summary_table([mnist, fashion], title="runs").title.endswith(
        "· mixed datasets: Fashion-MNIST, MNIST"
    )
    assert not summary_table([mnist]).title


def test_titles_say_where_the_data_came_from() -> None:
    from nbmnist.tables import data_label

    full = make_run("full", 0.98)
    sample = make_run("sample", 0.9, uses_sample=True)
    fashion = make_run("fashion", 0.88, options={"data": "fashion_mnist"})
    assert data_label([full]) == "MNIST test set"
    assert data_label([sample]) == "MNIST test set (bundled sample)"
    assert data_label([full, sample]) == "MNIST test set (some runs on the bundled sample)"
    assert data_label([full, fashion]) == "mixed datasets: Fashion-MNIST, MNIST"
    assert data_label([sample], part="") == "MNIST (bundled sample)"
