"""Bad input raises a DataError naming the column, the rows and the rule; a failed fit is a value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl


@pytest.fixture
def runs() -> pd.DataFrame:
    return sl.simulate.family(seed=1)


def test_missing_column_is_named_with_what_was_found(runs):
    with pytest.raises(
        sl.DataError, match=r"runs is missing column 'n_tokens' \(found: family, model, n_params, step"
    ):
        sl.fit(runs.drop(columns="n_tokens"))


def test_non_positive_values_name_the_rows(runs):
    bad = runs.copy()
    bad.loc[[0, 17, 18], "n_tokens"] = [0.0, -1.0, 0.0]
    with pytest.raises(sl.DataError, match=r"column 'n_tokens' has 3 values <= 0 \(rows 0, 17, 18\)"):
        sl.fit(bad)


def test_nan_is_reported_before_sign(runs):
    bad = runs.copy()
    bad.loc[5, "loss"] = np.nan
    with pytest.raises(sl.DataError, match=r"column 'loss' has 1 value missing or non-finite \(row 5\)"):
        sl.fit(bad)


@pytest.mark.parametrize("dtype", ["Float64", "Int64"])
def test_missing_values_of_nullable_columns_name_the_rows(runs, dtype):
    bad = runs.astype({"n_tokens": dtype})
    bad.loc[[2, 9], "n_tokens"] = pd.NA
    with pytest.raises(
        sl.DataError, match=r"column 'n_tokens' has 2 values missing or non-finite \(rows 2, 9\)"
    ):
        sl.fit(bad)
    assert sl.fit(runs.astype({"n_tokens": dtype})).params == sl.fit(runs).params


def test_non_numeric_values_are_shown(runs):
    bad = runs.astype({"n_params": object})
    bad.loc[3, "n_params"] = "7B"
    with pytest.raises(
        sl.DataError, match=r"column 'n_params' has 1 non-numeric values \(row 3, e.g. '7B'\)"
    ):
        sl.fit(bad)


def test_errors_in_a_batch_name_the_table(runs):
    bad = runs.copy()
    bad.loc[2, "loss"] = -1.0
    with pytest.raises(sl.DataError, match=r"^runs\[1\]: column 'loss'"):
        sl.fit_many([runs, bad])


def test_data_error_is_a_value_error(runs):
    with pytest.raises(ValueError):
        sl.fit(runs.drop(columns="loss"))


def test_negative_weights_are_refused(runs):
    bad = runs.assign(weight=1.0)
    bad.loc[4, "weight"] = -2.0
    with pytest.raises(sl.DataError, match=r"column 'weight' has 1 negative or non-finite values \(row 4\)"):
        sl.fit(bad)


def test_too_few_points_is_a_status_not_an_exception(runs):
    tiny = runs.head(3)
    fits = sl.fit_many([runs, tiny])
    assert fits[0].success
    assert fits[1].status == "too_few_points"
    assert "3 points for 5 free parameters" in fits[1].message
    assert np.isnan(fits[1].params["alpha"])


def test_subsets_without_a_point_are_a_status_not_an_exception(runs):
    # (a protocol cell whose mask selects nothing; a batch of such cells has no points at all)
    empty = np.zeros(len(runs), bool)
    fits = sl.fit_many(runs, subsets=[empty, empty])
    assert [f.status for f in fits] == ["too_few_points", "too_few_points"]
    assert [f.n_points for f in fits] == [0, 0]
    mixed = sl.fit_many(runs, subsets=[empty, ~empty])
    assert [f.status for f in mixed] == ["too_few_points", "ok"]


def test_zero_weight_points_do_not_count(runs):
    weighted = runs.assign(weight=np.where(runs.index < 40, 0.0, 1.0))
    fit = sl.fit(weighted)
    same = sl.fit(runs.iloc[40:])
    assert fit.n_points == 80
    assert fit.params == pytest.approx(dict(same.params), rel=1e-9)


def test_unknown_objective():
    with pytest.raises(sl.LawError, match="unknown objective 'l2'; choose one of lsq, huber_log"):
        sl.fit(sl.simulate.family(), objective="l2")


def test_fit_accepts_a_mapping_of_columns(runs):
    fit = sl.fit({c: runs[c].to_numpy() for c in ("n_params", "n_tokens", "loss")})
    assert fit.success and fit.n_models == 6
