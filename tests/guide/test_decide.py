"""Decisions: compare two families at a target (paired resampling), and compute-optimal allocation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from guide_helpers import small_runs
from scipy.optimize import minimize_scalar

import scalinglaw as sl
from scalinglaw import ScalingLawError
from scalinglaw.cli import main
from scalinglaw.guide import allocate, compare, estimate
from scalinglaw.guide.decide import optimal_allocation
from scalinglaw.simulate import BESIROGLU_2024

LAW = sl.laws.chinchilla()
SIZES = (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)


def _family(E, seed):
    return small_runs(sizes=SIZES, seed=seed, run_noise=0.01, params={**BESIROGLU_2024, "E": E})


@pytest.mark.parametrize(("E", "swap", "sure"), [(1.6, False, 0.95), (1.6, True, 0.95), (1.72, False, 0.8)])
def test_compare_picks_the_truly_better_family(E, swap, sure, prior):
    """10 % (E = 1.6) and 5 % (E = 1.72) lower loss at the target: the better one is named, and P(A
    better) is surer for the larger gap (two new runs still differ by seed noise)."""
    better, worse = _family(E, seed=1), _family(1.8172, seed=2)
    a, b = (worse, better) if swap else (better, worse)
    c = compare(a, b, target_params=1.28e10, target_tokens=2.56e11, borrow=prior, draws=100)
    assert c.better == ("B" if swap else "A")
    assert (c.p_a_better < 1 - sure) if swap else (c.p_a_better > sure)
    assert c.paired  # same sizes, same seed: draw i refits the same resampled sizes in both
    truth = LAW.predict({**BESIROGLU_2024, "E": E}, n_params=1.28e10, n_tokens=2.56e11) / LAW.predict(
        BESIROGLU_2024, n_params=1.28e10, n_tokens=2.56e11
    )
    true_ratio = (1 / truth if swap else truth) - 1
    lo, hi = c.intervals["0.95"]
    assert lo < true_ratio < hi


def test_compare_of_one_recipe_is_undecided(prior):
    c = compare(
        _family(1.8172, 1),
        _family(1.8172, 2),
        target_params=1.28e10,
        target_tokens=2.56e11,
        borrow=prior,
        draws=100,
    )
    assert 0.05 < c.p_a_better < 0.95
    lo, hi = c.intervals["0.8"]
    assert lo < 0 < hi


def test_compare_unpaired_when_sizes_differ(prior):
    a = small_runs(sizes=SIZES[:5], seed=1)
    b = small_runs(sizes=SIZES[1:], seed=2)
    c = compare(a, b, target_params=1.28e10, target_tokens=2.56e11, borrow=prior, draws=50)
    assert not c.paired
    assert json.loads(json.dumps(c.to_dict()))["better"] in ("A", "B")


def test_optimal_allocation_matches_numerical_minimum():
    params = dict(BESIROGLU_2024)
    for flops in (1e19, 1e21, 1e23, 1e25):
        n, d = optimal_allocation(params, flops)
        assert 6 * n * d == pytest.approx(flops, rel=1e-12)
        res = minimize_scalar(
            lambda x, c=flops: float(LAW.predict(params, n_params=np.exp(x), n_tokens=c / (6 * np.exp(x)))),
            bounds=(np.log(1e5), np.log(1e14)),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert n == pytest.approx(np.exp(res.x), rel=1e-4)
    with pytest.raises(ScalingLawError, match="does not trade size for data"):
        optimal_allocation({**params, "beta": 0.0}, 1e21)


def test_allocate_from_an_estimate_brackets_the_true_optimum(prior):
    est = estimate(small_runs(sizes=SIZES, noise=0.002, checkpoints=20), borrow=prior, draws=100)
    a = allocate(est, 1e21)
    n_true, _ = optimal_allocation(dict(BESIROGLU_2024), 1e21)
    lo, hi = a.intervals["0.95"]["n_params"]
    assert lo <= a.n_params <= hi
    assert lo < n_true < hi
    assert a.loss == pytest.approx(float(est.predict(a.n_params, a.n_tokens)))
    with pytest.raises(ScalingLawError, match="flops"):
        allocate(est, -1.0)


def test_cli_compare_and_allocate(tmp_path, capsys):
    for name, seed, E in (("a.csv", 1, 1.6), ("b.csv", 2, 1.8172)):
        _family(E, seed).to_csv(tmp_path / name, index=False)
    args = ["--target-params", "12.8B", "--target-tokens", "256B", "--draws", "30", "--no-borrow"]
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["better"] == "A" and out["names"] == ["a.csv", "b.csv"]
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), *args]) == 0
    assert "P(A better)" in capsys.readouterr().out
    assert (
        main(
            [
                "fit",
                str(tmp_path / "b.csv"),
                "--draws",
                "30",
                "--no-borrow",
                "--out",
                str(tmp_path / "fit"),
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["allocate", str(tmp_path / "fit"), "--flops", "1e21", "--json"]) == 0
    alloc = json.loads(capsys.readouterr().out)
    assert alloc["flops"] == 1e21 and alloc["n_params"] * alloc["n_tokens"] * 6 == pytest.approx(1e21)
