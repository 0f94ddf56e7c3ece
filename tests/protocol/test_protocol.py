"""Protocol pieces on small families where the right subset and error are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import protocol
from scalinglaw.protocol import Runs


def tiny() -> pd.DataFrame:
    """Three models, tokens 10..100 (x 1e9) in steps of 10: easy to count by hand."""
    rows = []
    for name, n in (("s", 1e8), ("m", 1e9), ("l", 1e10)):
        for t in range(10, 101, 10):
            rows.append(
                {"model": name, "n_params": n, "n_tokens": t * 1e9, "loss": 2 + n**-0.1 + (t * 1e9) ** -0.1}
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


def test_models_are_ordered_by_size_and_the_target_is_the_largest():
    runs = Runs(tiny())
    assert runs.models == ("s", "m", "l")
    assert runs.target() == "l" and runs.target("smallest") == "s" and runs.target("m") == "m"
    assert runs.candidates("l") == ["s", "m"]  # scale up: smallest first
    assert runs.candidates("s") == ["l", "m"]  # scale down: largest first
    assert runs.candidates("m") == ["s", "l"] or runs.candidates("m") == ["l", "s"]


def test_target_window_is_the_last_30_percent_of_tokens():
    window = Runs(tiny()).window("l")
    assert sorted(window["n_tokens"] / 1e9) == [70, 80, 90, 100]  # tokens >= 0.7 x 100B


def test_percentage_is_strict_and_relative_to_the_selected_models_jointly():
    runs = Runs(tiny())
    mask = runs.training(["s", "m"], percentage=0.5, cut=0)
    assert sorted(runs.table[mask].groupby("model")["n_tokens"].max() / 1e9) == [40, 40]  # < 50B, strict
    full = runs.training(["s", "m"], percentage=1.0, cut=0)
    assert runs.table[full]["n_tokens"].max() == 90e9  # p = 1 drops the very last checkpoint (paper)
    inclusive = runs.training(["s", "m"], percentage=1.0, cut=0, inclusive=True)
    assert runs.table[inclusive]["n_tokens"].max() == 100e9


def test_per_model_percentage_and_relative_cut():
    df = tiny()
    df.loc[df["model"] == "s", "n_tokens"] /= 2  # the small run is half as long
    runs = Runs(df)
    joint = runs.table[runs.training(["s", "m"], percentage=0.5, cut=0)]
    own = runs.table[runs.training(["s", "m"], percentage=0.5, cut=0, percentage_of="model")]
    assert joint.query("model == 's'")["n_tokens"].max() == 45e9  # all of s's run below 50B
    assert own.query("model == 's'")["n_tokens"].max() == 20e9  # below half of its own 50B
    rel = runs.table[runs.training(["m"], cut=0.25, relative_cut=True)]
    assert rel["n_tokens"].min() == 30e9  # > 25 % of 100B


def test_absolute_cut_is_strict_and_start_drops_the_front():
    runs = Runs(tiny())
    assert runs.table[runs.training(["m"], cut=20e9)]["n_tokens"].min() == 30e9
    front = runs.table[runs.training(["m"], percentage=0.7, cut=0, start=0.5)]
    assert sorted(front["n_tokens"] / 1e9) == [40, 50, 60]  # [0.5 x 70B, 70B)


def test_flops_is_the_training_cost_of_the_runs_used():
    runs = Runs(tiny())
    mask = runs.training(["s", "m"], percentage=0.5, cut=0)
    assert runs.flops(mask) == pytest.approx(6 * 1e8 * 40e9 + 6 * 1e9 * 40e9)
    assert runs.flops(np.zeros(len(runs.table), bool)) == 0.0


def test_are_and_signed_error_by_construction():
    window = pd.DataFrame({"n_params": [1.0, 1.0], "n_tokens": [1.0, 1.0], "loss": [2.0, 4.0]})
    assert protocol.are(np.array([2.2, 3.6]), window) == pytest.approx(0.1)
    assert protocol.signed_re(np.array([2.2, 3.6]), window) == pytest.approx(0.0)
    assert protocol.signed_re(3.0, window) == pytest.approx((0.5 - 0.25) / 2)


def test_baselines():
    train = pd.DataFrame(
        {"n_params": [1e8, 1e9, 1e9], "n_tokens": [1e11, 1e10, 5e10], "loss": [2.5, 2.9, 2.7]}
    )
    assert protocol.best_loss_baseline(train) == 2.5
    assert protocol.most_trained_baseline(train) == 2.7  # N x D = 5e19 beats 1e19


def test_a_law_fitted_on_noise_free_runs_predicts_the_target_exactly():
    runs = Runs(sl.simulate.family(noise=0.0))
    target = runs.target()
    fit = sl.fit(runs.table[runs.training(runs.candidates(target), cut=0)])
    assert protocol.are(fit, runs.window(target)) < 1e-6


def test_bad_input_is_named():
    with pytest.raises(sl.DataError, match="missing column 'loss'"):
        Runs(tiny().drop(columns="loss"))
    df = tiny()
    df.loc[df.index[0], "n_params"] = 5.0
    with pytest.raises(sl.DataError, match="has more than one n_params"):
        Runs(df)
    with pytest.raises(sl.DataError, match="no model 'xl'"):
        Runs(tiny()).window("xl")
    with pytest.raises(sl.DataError, match=r"percentage == 1.5, must be in \(0, 1\]"):
        Runs(tiny()).training(["s"], percentage=1.5)
