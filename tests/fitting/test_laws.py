"""Laws are immutable values with named parameters, bounds, starts and a fixed flag."""

from __future__ import annotations

import numpy as np
import pytest

import scalinglaw as sl
from scalinglaw.laws import MUENNIGHOFF_2024, chinchilla, get_law


def test_fix_bound_start_return_new_laws():
    base = chinchilla()
    law = base.fix(A=520.8, alpha=0.3527).bound(beta=(0, 2)).start(E=2.0)
    assert law.free == ("E", "B", "beta")
    assert law.fixed == {"A": 520.8, "alpha": 0.3527}
    assert law.param("beta").upper == 2.0
    assert law.param("E").start == 2.0
    assert base.free == ("E", "A", "alpha", "B", "beta"), "the original law must be unchanged"
    assert law.release("A").free == ("E", "A", "B", "beta")
    assert law.release().fixed == {}


def test_fix_without_value_holds_the_start():
    assert chinchilla().fix(alpha=None).fixed == {"alpha": MUENNIGHOFF_2024["alpha"]}


def test_unknown_parameter_names_the_law_and_suggests():
    with pytest.raises(
        sl.LawError, match=r"law 'chinchilla' has no parameter 'alfa'.*Did you mean 'alpha'\?"
    ):
        chinchilla().fix(alfa=0.3)


def test_bad_bounds_and_values_are_refused():
    with pytest.raises(sl.LawError, match=r"lower bound 2\.0 exceeds upper bound 1\.0"):
        chinchilla().bound(beta=(2, 1))
    with pytest.raises(sl.LawError, match=r"outside its bounds \[0.0, 5.0\]"):
        chinchilla().start(alpha=7.0)
    with pytest.raises(sl.LawError, match="must be a \\(lower, upper\\) pair"):
        chinchilla().bound(beta=3)


def test_unknown_law_suggests_the_closest():
    with pytest.raises(
        sl.LawError, match=r"unknown law 'chinchila'\. Available: .*Did you mean 'chinchilla'"
    ):
        get_law("chinchila")


def test_predict_broadcasts_and_matches_the_formula():
    law = chinchilla()
    N = np.array([1e8, 1e9])[:, None]
    D = np.array([1e10, 1e11, 1e12])[None, :]
    out = law.predict(n_params=N, n_tokens=D)
    m = MUENNIGHOFF_2024
    expected = m["E"] + m["A"] / N ** m["alpha"] + m["B"] / D ** m["beta"]
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_predict_needs_every_input():
    with pytest.raises(sl.LawError, match="needs inputs n_params, n_tokens; missing n_tokens"):
        chinchilla().predict(n_params=1e9)


def test_available_laws_lists_formulas():
    laws = sl.available_laws()
    assert laws["chinchilla"] == "E + A / N^alpha + B / D^beta"
    assert {"kaplan", "data_constrained"} <= set(laws)


def test_kaplan_matches_its_published_form():
    law = get_law("kaplan")
    p = law.starts
    N, D = 1e9, 1e11
    expected = ((p["N_c"] / N) ** (p["alpha_N"] / p["alpha_D"]) + p["D_c"] / D) ** p["alpha_D"]
    assert float(law.predict(n_params=N, n_tokens=D)) == pytest.approx(expected, rel=1e-14)


def test_data_constrained_reduces_to_chinchilla_without_repetition():
    law = get_law("data_constrained")
    N, D = 1e9, 2e10
    # one epoch (unique tokens = tokens) and a model no larger than Chinchilla-optimal for them
    same = law.predict(n_params=N, n_tokens=D, unique_tokens=D)
    assert float(same) == pytest.approx(float(chinchilla().predict(n_params=N, n_tokens=D)), rel=1e-12)
    # repeating the same data four times is worth less than four times the data
    repeated = law.predict(n_params=N, n_tokens=4 * D, unique_tokens=D)
    fresh = chinchilla().predict(n_params=N, n_tokens=4 * D)
    assert float(repeated) > float(fresh)
