"""Reading users' runs: every format, column mapping, sizes and tokens from wherever they are, and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from guide_helpers import small_runs, write_tensorboard, write_wandb

from scalinglaw import DataError
from scalinglaw.guide.inputs import parse_size, read_runs, validate_runs


def test_csv_with_standard_names_roundtrips(tmp_path):
    runs = small_runs()
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    got = read_runs(path)
    assert got.source == str(path)
    assert list(got.table.columns) == ["model", "n_params", "n_tokens", "loss", "step"]
    pd.testing.assert_frame_equal(
        got.table[["model", "n_params", "n_tokens", "loss"]],
        runs[["model", "n_params", "n_tokens", "loss"]].reset_index(drop=True),
        check_exact=False,
        rtol=1e-15,
    )
    assert got.provenance["n_params"] == "column 'n_params'"


def test_column_mapping_and_aliases(tmp_path):
    runs = small_runs().rename(columns={"model": "run_id", "loss": "eval/ppl_loss", "n_tokens": "seen"})
    path = tmp_path / "mine.csv"
    runs.to_csv(path, index=False)
    got = read_runs(path, columns={"model": "run_id", "loss": "eval/ppl_loss", "n_tokens": "seen"})
    assert got.provenance["loss"] == "column 'eval/ppl_loss'"
    assert got.table["model"].nunique() == 5


def test_parquet_and_jsonl(tmp_path):
    runs = small_runs()
    runs.to_parquet(tmp_path / "r.parquet")
    runs.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    a, b = read_runs(tmp_path / "r.parquet"), read_runs(tmp_path / "r.jsonl")
    assert np.allclose(a.table["loss"], b.table["loss"], rtol=1e-9)  # JSON keeps ~10 digits


def test_params_parsed_from_run_names(tmp_path):
    runs = small_runs().drop(columns="n_params")
    got = read_runs(runs)
    assert sorted(got.table["n_params"].unique()) == [1e8, 2e8, 4e8, 8e8, 1.6e9]
    assert got.provenance["n_params"].startswith("parsed from run names (sim-100m: 100M")


def test_params_from_a_per_run_table(tmp_path):
    runs = small_runs().drop(columns="n_params")
    runs["model"] = runs["model"].str.replace("sim-", "run")  # names no longer carry sizes
    table = tmp_path / "sizes.csv"
    pd.DataFrame(
        {
            "model": [f"run{m}m" for m in (100, 200, 400, 800, 1600)],
            "n_params": ["100M", "200M", "400M", "800M", "1.6B"],
        }
    ).to_csv(table, index=False)
    got = read_runs(runs, params=table)
    assert got.table["n_params"].max() == 1.6e9
    assert got.provenance["n_params"] == f"from per-run table {table}"
    with pytest.raises(DataError, match="no size in run name 'run100m'"):
        read_runs(runs)


def test_tokens_from_steps_times_batch():
    runs = small_runs().drop(columns="n_tokens")
    got = read_runs(runs, batch_tokens=2**21)
    assert got.table["n_tokens"].iloc[0] == got.table["step"].iloc[0] * 2**21
    assert got.provenance["n_tokens"] == "step x 2.09715e+06 batch tokens"
    with pytest.raises(DataError, match=r"no token counts .* --batch-tokens"):
        read_runs(runs)


def test_wandb_export_directory(tmp_path):
    runs = small_runs()
    got = read_runs(write_wandb(runs, tmp_path / "wandb"))
    assert got.provenance["loss"] == "W&B metric 'train/loss'"
    assert got.provenance["n_tokens"] == "W&B metric 'tokens'"
    assert got.provenance["n_params"].startswith("parsed from run names")
    merged = got.table.merge(runs, on=["model", "n_tokens"], suffixes=("", "_true"))
    assert len(merged) == len(runs)
    assert np.allclose(merged["loss"], merged["loss_true"])


def test_single_wandb_file_and_steps_only(tmp_path):
    runs = small_runs()
    folder = write_wandb(runs, tmp_path / "w", with_tokens=False)
    got = read_runs(folder / "train_loss.csv", batch_tokens=2**21)
    assert got.provenance["n_tokens"].startswith("step x")
    assert len(got.table) == len(runs)


def test_tensorboard_log_directory(tmp_path):
    pytest.importorskip("tensorboard")
    runs = small_runs()
    got = read_runs(write_tensorboard(runs, tmp_path / "tb"), batch_tokens=2**21)
    assert got.provenance["loss"] == "tag 'eval/loss'"
    assert got.provenance["model"] == "run names (log subdirectories)"
    assert sorted(got.table["model"].unique()) == sorted(runs["model"].unique())
    assert np.allclose(np.sort(got.table["loss"]), np.sort(runs["loss"]), rtol=1e-6)  # float32 in events


def test_several_candidate_loss_metrics_need_a_choice(tmp_path):
    runs = small_runs()
    write_wandb(runs, tmp_path / "w")
    extra = pd.read_csv(tmp_path / "w" / "train_loss.csv")
    extra.columns = [c.replace("train/loss", "val/loss") for c in extra.columns]
    extra.to_csv(tmp_path / "w" / "val_loss.csv", index=False)
    with pytest.raises(DataError, match=r"cannot tell which W&B metric is the loss .* --metric"):
        read_runs(tmp_path / "w")
    assert read_runs(tmp_path / "w", metric="val/loss").provenance["loss"] == "W&B metric 'val/loss'"


def test_parse_size():
    assert parse_size("1.3B") == 1.3e9
    assert parse_size(" 350m ") == 3.5e8
    assert parse_size("7e9") == 7e9
    assert np.isnan(parse_size("big"))


def test_perplexity_option_converts_with_ln():
    runs = small_runs()
    runs["loss"] = np.exp(runs["loss"])
    got = validate_runs(runs, perplexity=True)
    assert np.allclose(np.sort(got["loss"]), np.sort(np.log(runs["loss"])))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.drop(columns="loss"), "missing column 'loss'"),
        (
            lambda r: r.assign(loss=r["loss"].where(r.index != 3)),
            r"column 'loss' has 1 missing \(NaN\) values \(row 3\)",
        ),
        (
            lambda r: r.assign(n_params=r["n_params"].astype(object).where(r.index != 5, "huge")),
            "column 'n_params' has 1 non-numeric values",
        ),
        (
            lambda r: pd.concat([r, r.iloc[[2]]], ignore_index=True),
            "duplicate checkpoints: run 'sim-100m' has 2 rows",
        ),
        (lambda r: r.assign(loss=np.exp(r["loss"]) * 10), "looks like perplexities"),
        (
            lambda r: r.assign(n_tokens=r["n_tokens"].where(r.index != 4, 1.0)),
            "tokens not increasing along run 'sim-100m'",
        ),
        (
            lambda r: r.assign(n_params=r["n_params"].where(r.index != 1, 5e8)),
            "run 'sim-100m' has 2 different n_params",
        ),
        (lambda r: r.assign(loss=-r["loss"]), "column 'loss' has .* <= 0"),
    ],
)
def test_validation_errors_name_the_problem(mutate, message):
    with pytest.raises(DataError, match=message) as err:
        validate_runs(mutate(small_runs()))
    assert "\n" not in str(err.value)


def test_missing_file_and_empty_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_runs(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no TensorBoard event files and no CSV"):
        read_runs(tmp_path / "empty")
