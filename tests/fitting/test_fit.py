"""Fit values: determinism, batching, serialisation, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scalinglaw as sl
from scalinglaw.fitting import Fit


@pytest.fixture(scope="module")
def families():
    return [sl.simulate.family(seed=s, sizes=(1e8, 3e8, 1e9, 3e9)[: 2 + s % 3]) for s in range(6)]


@pytest.mark.parametrize("objective", ["lsq", "huber_log"])
def test_same_input_same_bits(families, objective):
    a = sl.fit_many(families, objective=objective)
    b = sl.fit_many(families, objective=objective)
    for x, y in zip(a, b, strict=True):
        assert x.params == y.params and x.value == y.value


@pytest.mark.parametrize("objective", ["lsq", "huber_log"])
def test_fit_many_agrees_with_fit(families, objective):
    batch = sl.fit_many(families, objective=objective)
    for runs, f in zip(families, batch, strict=True):
        one = sl.fit(runs, objective=objective)
        assert f.value == pytest.approx(one.value, rel=1e-10)
        assert float(f.predict(1e10, 2e11)) == pytest.approx(float(one.predict(1e10, 2e11)), rel=1e-6)


def test_row_order_does_not_matter(families):
    runs = families[3]
    shuffled = runs.sample(frac=1.0, random_state=0)
    assert sl.fit(shuffled).value == pytest.approx(sl.fit(runs).value, rel=1e-12)


def test_reported_value_is_the_objective_at_the_parameters(families):
    fit = sl.fit(families[2], objective="huber_log")
    runs = families[2]
    pred = fit.predict(runs.n_params.to_numpy(), runs.n_tokens.to_numpy())
    r = np.log(pred) - np.log(runs.loss.to_numpy())
    huber = np.where(np.abs(r) <= 1e-3, 0.5 * r**2, 1e-3 * (np.abs(r) - 0.5e-3))
    assert fit.value == pytest.approx(huber.sum(), rel=1e-12)


def test_round_trip_through_json(families):
    fit = sl.fit(families[1], fixed={"alpha": 0.3})
    back = Fit.from_dict(json.loads(json.dumps(fit.to_dict())))
    assert back.params == fit.params
    assert back.law.fixed == {"alpha": 0.3}
    assert float(back.predict(7e9, 1e12)) == float(fit.predict(7e9, 1e12))


def test_summary_has_fixed_sections(families):
    text = sl.fit(families[0], fixed={"alpha": 0.3}).summary()
    for section in ("Law", "Objective", "Status", "Solver", "Parameters"):
        assert section in text
    assert "fixed" in text and "alpha" in text


def test_params_are_read_only(families):
    fit = sl.fit(families[0])
    with pytest.raises(TypeError):
        fit.params["E"] = 1.0  # type: ignore[index]


def test_failed_fits_predict_nan():
    fit = sl.fit_many([sl.simulate.family().head(2)])[0]
    assert not fit.success
    assert np.isnan(fit.predict(1e9, 1e10))


def test_subsets_fit_the_selected_rows(families):
    table = families[4]
    mask = (table.n_tokens > table.n_tokens.median()).to_numpy()
    positions = np.flatnonzero(mask)
    by_mask, by_positions = sl.fit_many(table, subsets=[mask, positions])
    direct = sl.fit(table[mask])
    assert by_mask.value == pytest.approx(direct.value, rel=1e-10)
    assert by_positions.params == pytest.approx(dict(by_mask.params), rel=1e-9)
    assert by_mask.n_points == int(mask.sum()) and by_mask.n_models == direct.n_models

    # the same rows in another order, selected by mask and by positions (one listed twice: weight 2), on
    # two sizes (which the fit's notes count)
    two = (table.n_params < table.n_params.max()).to_numpy()
    twice = np.append(np.flatnonzero(two), 0)
    expected = sl.fit_many(table, subsets=[two, twice])
    order = np.random.default_rng(0).permutation(len(table))
    again = sl.fit_many(table.iloc[order], subsets=[two[order], np.argsort(order)[twice]])
    for got, want in zip(again, expected, strict=True):
        assert got.value == pytest.approx(want.value, rel=1e-12)
        assert got.notes == want.notes and any("two model sizes" in n for n in got.notes)


@pytest.mark.parametrize("route", ["subsets", "tables"])
def test_a_fit_that_cannot_be_done_leaves_its_neighbours_alone(families, route):
    """A fit with too few points, or with every weight 0, in the middle of a batch: the fits around it
    get their own answers, and every fit counts its own points and models."""
    table = families[4]  # three sizes
    smallest = (table.n_params == table.n_params.min()).to_numpy()
    masks = [~smallest, np.arange(len(table)) < 3, smallest]
    if route == "subsets":
        fits = sl.fit_many(table, subsets=masks)
    else:
        fits = sl.fit_many([table[masks[0]], table.assign(weight=0.0), table[masks[2]]])
    assert [f.status for f in fits[:2]] == ["ok", "too_few_points"]
    assert fits[1].n_points == (3 if route == "subsets" else 0)
    for f, mask in zip((fits[0], fits[2]), (masks[0], masks[2]), strict=True):
        alone = sl.fit(table[mask])
        assert f.value == pytest.approx(alone.value, rel=1e-10)
        assert (f.n_points, f.n_models) == (int(mask.sum()), alone.n_models)
    assert (fits[0].n_models, fits[2].n_models) == (2, 1)


def test_repeated_positions_count_as_weights(families):
    table = families[5]
    twice = np.concatenate([np.arange(len(table)), np.arange(20)])
    weighted = table.assign(weight=np.where(np.arange(len(table)) < 20, 2.0, 1.0))
    assert sl.fit_many(table, subsets=[twice])[0].value == pytest.approx(sl.fit(weighted).value, rel=1e-10)


def test_bad_subsets_are_refused(families):
    with pytest.raises(sl.DataError, match=r"subsets\[0\]: a boolean mask needs 40 entries"):
        sl.fit_many(families[3], subsets=[np.ones(5, bool)])
    with pytest.raises(sl.DataError, match=r"subsets\[1\]: row positions must be integers in \[0, 40\)"):
        sl.fit_many(families[3], subsets=[[0, 1, 2, 3, 4, 5], [0, 40]])
