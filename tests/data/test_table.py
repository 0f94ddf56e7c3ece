"""The long table: schema, validation rules, the Parquet cache, and the public loaders."""

from __future__ import annotations

import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import DataError
from scalinglaw.data import COLUMNS, SCHEMA, table, validate
from scalinglaw.data.families import Adapter, Built, Family, gpt3, small
from scalinglaw.data.families._base import rows


def test_schema_and_dtypes(dataset):
    assert tuple(dataset.columns) == COLUMNS
    assert {c: str(t) for c, t in dataset.dtypes.items()} == SCHEMA
    validate(dataset)  # the cached table passes the rules it was built under


def test_units_and_sources(dataset):
    units = set(dataset["unit"].astype(str))
    assert "nats" in units and "accuracy" in units
    assert not any(u == "ppl" or "perplexity" in u for u in units)
    assert dataset["source"].astype(str).str.match(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7}:").all()


def test_total_models(dataset):
    assert dataset["model"].nunique() > 485  # the paper's count, reconciled in docs/collection.md


def _frame(**over) -> pd.DataFrame:
    base = dict(  # noqa: C408 - keyword form mirrors rows()'s signature
        family="toy",
        model=pd.Series(["a", "a", "b"]),
        n_params=pd.Series([1e6, 1e6, 2e6]),
        n_tokens=pd.Series([1e9, 2e9, 1e9]),
        step=pd.Series([1, 2, 1]),
        metric="val_loss",
        value=pd.Series([3.0, 2.9, 2.8]),
        unit="nats",
        arch="dec",
        data="toy",
        source="o/r@abcdef1:toy.csv",
    )
    base.update(over)
    return table._finalise(rows(**base))


def test_validate_accepts_a_good_frame():
    validate(_frame())


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"n_tokens": pd.Series([1e9, 1e9, 1e9])}, "duplicate"),
        ({"n_tokens": pd.Series([1e9, -1.0, 1e9])}, "'n_tokens' must be positive"),
        ({"n_params": pd.Series([1e6, 0.0, 2e6])}, "'n_params' must be positive"),
        ({"value": pd.Series([3.0, 65.0, 2.8])}, "outside the plausible range"),
        ({"unit": "accuracy", "value": pd.Series([0.3, 45.0, 0.5])}, r"outside \[0, 1\]"),
        ({"arch": "rnn"}, "'arch' must be one of"),
        ({"source": "somewhere"}, "owner/repo@commit:path"),
        ({"n_tokens": pd.Series([2e9, 1e9, 1e9])}, "tokens do not increase with the step"),
        ({"step": pd.Series([1, 1, 1]), "n_tokens": pd.Series([1e9, 2e9, 1e9])}, "one step of a run maps"),
    ],
)
def test_validate_rejects(over, match):
    with pytest.raises(DataError, match=match):
        validate(_frame(**over))


def test_validate_names_file_and_rows():
    bad = _frame(value=pd.Series([3.0, 2.9, 95.0]))
    with pytest.raises(DataError, match=r"o/r@abcdef1:toy\.csv \(rows 2;"):
        validate(bad)


def test_validate_wrong_columns():
    with pytest.raises(DataError, match="columns must be exactly"):
        validate(_frame().drop(columns="epochs"))


def test_doctored_source_file_fails_the_build(tmp_path, sources_root, empty_cache):
    """A mirror file edited to break a rule fails the build with a named error, and caches nothing."""
    rel = "IBM/ColPret/" + small.REVISITING_PATH
    src = (sources_root / rel).read_text()
    doctored = tmp_path / "mirror" / rel
    doctored.parent.mkdir(parents=True)
    doctored.write_text(src.replace("0.9311752923076924", "0.5311752923076924", 1))
    adapter = Adapter("revisiting", small.REVISITING, small.build_revisiting)
    from scalinglaw import SourceError

    with pytest.raises(SourceError, match="does not match the pinned upstream file"):
        table.build_dataset(sources=tmp_path / "mirror", adapters=(adapter,))
    assert not empty_cache.exists() or not any(empty_cache.rglob("*.parquet"))


def test_adapter_rule_violation_names_the_source(monkeypatch, sources_root):
    """Rows breaking a rule are an error naming the upstream file, not silently dropped."""
    real = gpt3.build

    def doctored(ctx):
        built = real(ctx)
        frame = built.frame.copy()
        frame.loc[5, "value"] = 120.0  # a perplexity left unconverted
        return Built(frame, built.drops)

    adapter = Adapter("gpt3", gpt3.FAMILIES, doctored)
    with pytest.raises(DataError, match=r"IBM/ColPret@16f23bb:raw_data/gpt3/extracted\.csv.*rows 5"):
        table.build_dataset(sources=sources_root, adapters=(adapter,))


def test_undeclared_family_is_an_error(sources_root):
    def build(ctx):
        return Built(_frame().astype({"family": str}))

    with pytest.raises(DataError, match="undeclared families"):
        table.build_dataset(
            adapters=(Adapter("toy", (Family("other", None, "val_loss", "dec", "x"),), build),)
        )


def test_cache_roundtrip_and_failed_build_leaves_nothing(sources_root, empty_cache, monkeypatch):
    toy = (Adapter("toy", (Family("toy", None, "val_loss", "dec", "toy"),), lambda ctx: Built(_frame())),)
    monkeypatch.setattr(table, "ADAPTERS", toy)
    monkeypatch.setattr(
        table,
        "build_dataset",
        lambda sources=None, progress=None, adapters=toy: _orig_build(
            sources=sources, progress=progress, adapters=adapters
        ),
    )
    first = sl.load_dataset(sources=sources_root)
    files = sorted(p.name for p in empty_cache.rglob("*") if p.is_file())
    assert len(files) == 2 and any(f.endswith(".parquet") for f in files)
    assert not any(f.endswith(".tmp") for f in files)
    monkeypatch.setattr(table, "_MEMORY", {})
    again = sl.load_dataset(sources=sources_root)  # read back from Parquet
    pd.testing.assert_frame_equal(first, again)

    def broken(ctx):
        raise DataError("boom")

    bad = (Adapter("toy", toy[0].families, broken),)
    monkeypatch.setattr(
        table,
        "build_dataset",
        lambda sources=None, progress=None, adapters=bad: _orig_build(
            sources=sources, progress=progress, adapters=adapters
        ),
    )
    for p in empty_cache.rglob("*"):
        if p.is_file():
            p.unlink()
    monkeypatch.setattr(table, "_MEMORY", {})
    with pytest.raises(DataError, match="boom"):
        sl.load_dataset(sources=sources_root)
    assert [p for p in empty_cache.rglob("*") if p.is_file()] == []


_orig_build = table.build_dataset


def test_cache_key_changes_with_the_code(monkeypatch):
    key = table._cache_key()
    import scalinglaw

    monkeypatch.setattr(scalinglaw, "__version__", "999")
    assert table._cache_key() != key


def test_load_family_shape(dataset):
    runs = sl.load_family("gpt3")
    assert list(runs.columns) == ["family", "model", "n_params", "n_tokens", "loss", "seed", "step", "flops"]
    assert isinstance(runs.index, pd.RangeIndex) and runs.index[0] == 0
    for col in ("n_params", "n_tokens", "loss", "flops"):
        assert runs[col].dtype == "float64"
    assert runs.equals(runs.sort_values(["n_params", "model", "n_tokens"], ignore_index=True))
    assert not runs.duplicated(["model", "n_tokens"]).any()
    train = sl.load_family("gpt3", metric="train_loss")
    assert len(train) != len(runs)
    assert sl.load_family("OPT")["family"].iloc[0] == "opt"  # the paper's name works too


def test_load_family_unknown(dataset):
    with pytest.raises(DataError, match=r"unknown family 'gpt-3'\. Did you mean 'gpt3'.*Known families"):
        sl.load_family("gpt-3")
    with pytest.raises(DataError, match=r"has no metric 'val_los'\. Did you mean 'val_loss'"):
        sl.load_family("gpt3", metric="val_los")


def test_list_families(dataset):
    fams = sl.list_families()
    assert fams["family"].is_unique
    row = fams.set_index("family").loc["gpt3"]
    assert row["n_models"] == 8 and row["usable"] and row["paper_name"] == "gpt3"
    assert row["min_params"] == 125e6 and row["max_params"] == 175e9
    assert not fams.set_index("family").loc["k2", "usable"]
    assert {"c4", "oscar"} <= set(fams["data"])
    expected = {
        "gpt3",
        "opt",
        "chinchilla",
        "t5-pile",
        "olmo",
        "pythia",
        "pythia-deduped",
        "pythia-v0",
        "pythia-deduped-v0",
        "overtrain-c4",
        "redpajama-incite",
        "k2",
        "amber",
        "llm360-mamba",
        "bimix-pile",
        "moduleformer",
        "gzip-0.12",
        "revisiting-lm",
        "steplaw-dense",
        "gpt2-oscar-44",
    }
    assert expected <= set(fams["family"])


def test_families_table_is_current(dataset):
    """docs/families.md and the README block equal the generated table (scripts/update_families_table.py)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "update_families_table.py"
    spec = importlib.util.spec_from_file_location("update_families_table", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    docs, readme = module.render()
    assert module.DOCS.read_text(encoding="utf-8") == docs, "docs/families.md is stale"
    assert module.README.read_text(encoding="utf-8") == readme, "README.md's families block is stale"
