"""Each malformed input the issue names, via the CLI: one ``Error:`` line, exit 2, no traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from guide_helpers import small_runs

from scalinglaw.cli import main


def _run(capsys, args):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CASES = {
    "missing column": (lambda r: r.drop(columns="loss"), [], "missing column 'loss'"),
    "mapped column absent": (lambda r: r, ["--loss-col", "val_loss"], "missing column 'val_loss'"),
    "NaN": (
        lambda r: r.assign(loss=r["loss"].where(r.index != 7)),
        [],
        "column 'loss' has 1 missing (NaN) values (row 7)",
    ),
    "one model": (lambda r: r[r["model"] == "sim-100m"], [], "only one run ('sim-100m')"),
    "non-numeric params": (
        lambda r: r.assign(n_params=r["n_params"].astype(object).where(r.index != 2, "big")),
        [],
        "column 'n_params' has 1 non-numeric values (row 2: 'big')",
    ),
    "duplicate checkpoints": (
        lambda r: pd.concat([r, r.iloc[[10]]]),
        [],
        "duplicate checkpoints: run 'sim-200m'",
    ),
    "perplexities as losses": (lambda r: r.assign(loss=np.exp(r["loss"]) * 5), [], "looks like perplexities"),
    "tokens not increasing": (
        lambda r: r.assign(n_tokens=r["n_tokens"].where(r.index != 12, 1e6)),
        [],
        "tokens not increasing along run 'sim-200m'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_is_one_error_line_and_exit_2(case, tmp_path, capsys):
    mutate, extra, expected = CASES[case]
    path = tmp_path / "runs.csv"
    mutate(small_runs()).to_csv(path, index=False)
    code, out, err = _run(capsys, ["fit", str(path), "--no-plot", "--no-borrow", *extra])
    assert code == 2
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert expected in " ".join(err.split())
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target-params", "lots"], "--target-params 'lots' is not a positive number"),
        (["--cut", "sometimes"], "unknown cut 'sometimes'"),
    ],
)
def test_bad_options_are_errors_too(args, expected, tmp_path, capsys):
    path = tmp_path / "runs.csv"
    small_runs().to_csv(path, index=False)
    code, _, err = _run(capsys, ["fit", str(path), "--no-plot", *args])
    assert code == 2
    assert expected in " ".join(err.split())


def test_missing_file_and_missing_saved_fit(tmp_path, capsys):
    code, _, err = _run(capsys, ["fit", str(tmp_path / "nope.csv"), "--no-plot"])
    assert code == 2 and "no such file or directory" in err
    code, _, err = _run(capsys, ["predict", str(tmp_path), "--params", "1B", "--tokens", "20B"])
    assert code == 2 and "no saved estimate" in err
