"""Each experiment on synthetic families (known answers), and end to end on real families."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import experiments
from scalinglaw.experiments import COLUMNS, EXPERIMENTS, model_counts, run_experiment


@pytest.fixture(scope="module")
def clean():
    """A noise-free family, runs long enough to pass the 10B cut: identified laws predict exactly."""
    sizes = (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9, 6.4e9)
    return {"clean": sl.simulate.family(sizes=sizes, noise=0.0, tokens_per_param=400)}


def test_model_counts_follow_the_paper():
    assert model_counts(7) == [2, 3, 4, 5, 6, 7]
    assert model_counts(42) == [2, 10, 18, 26, 34, 42]
    assert model_counts(100) == list(range(2, 101, 10))


@pytest.mark.parametrize("name", sorted(set(EXPERIMENTS) - {"one_model_borrowed"}))  # borrows from others
def test_every_experiment_runs_on_a_users_family(clean, name):
    results = run_experiment(name, runs=clean)
    assert list(results.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(results) > 0
    assert set(results["status"]) <= {"ok", "failed", "too_few_points", "no_data"}
    ok = results[results["status"] == "ok"]
    assert len(ok) > 0
    if EXPERIMENTS[name].predict == "fit" and name not in ("one_model", "one_model_borrowed"):
        # laws fitted on exact data extrapolate exactly when the data identify them: three sizes for
        # (E, A, alpha) and enough checkpoints for (E, B, beta); two sizes leave a family of exact fits
        identified = ok[(ok["n_models"] >= 3) & (ok["n_points"] >= 4 * ok["n_models"])]
        assert len(identified) > 0
        assert identified["are"].max() < 1e-4, identified.sort_values("are").tail()


def test_num_models_grid_is_the_paper_grid(clean):
    res = run_experiment("num_models", runs=clean)
    assert len(res) == 5 * 10  # k = 2..6 (6 candidates), 10 percentages
    assert sorted(res["percentage"].unique()) == [round(0.1 * i, 1) for i in range(1, 11)]
    assert (res["cut"] == 1e10).all()
    two = res[(res["models"].str.count(",") == 1) & (res["percentage"] == 1.0)].iloc[0]
    assert two["largest_train_params"] == 2e8 and two["scale_up"] == pytest.approx(6.4e9 / 2e8)


def test_scale_down_targets_the_smallest_from_the_largest(clean):
    res = run_experiment("scale_down", runs=clean)
    assert (res["target_params"] == 1e8).all()
    first = res[res["models"].str.count(",") == 1].iloc[0]
    assert first["models"] == "simulated-6.4e+09,simulated-3.2e+09"
    assert (res["scale_up"] < 1).all()


def test_one_model_holds_muennighoffs_size_term_and_includes_the_target(clean):
    res = run_experiment("one_model", runs=clean)
    assert (res["fixed"] == "A,alpha=muennighoff").all()
    ok = res[res["status"] == "ok"]
    assert np.allclose(ok["A"], sl.laws.MUENNIGHOFF_2024["A"]) and np.allclose(ok["alpha"], 0.3526596)
    assert (res["largest_train_params"] == 6.4e9).any(), "the target's own partial training is a row (§5.1)"


def test_one_model_borrowed_uses_the_other_families_median():
    fams = {f"f{i}": sl.simulate.family(seed=i, params={**sl.simulate.BESIROGLU_2024, "alpha": a}) for i, a in
            enumerate((0.2, 0.3, 0.4, 0.5))}  # fmt: skip
    res = run_experiment("one_model_borrowed", runs=fams)
    row = res[(res["family"] == "f0") & (res["status"] == "ok")].iloc[0]
    fits = run_experiment("parameters", runs=fams).set_index("family")
    assert row["alpha"] == pytest.approx(np.median(fits.loc[["f1", "f2", "f3"], "alpha"]))
    assert row["fixed"] == "A,alpha=median of other families"


def test_baselines_predict_a_constant(clean):
    best = run_experiment("baseline_best", runs=clean)
    trained = run_experiment("baseline_most_trained", runs=clean)
    assert len(best) == len(trained)
    assert set(best.loc[best["n_points"] == 0, "status"]) <= {"no_data"}
    best = best[best["n_points"] > 0]
    assert (best["status"] == "ok").all()
    assert (best["are"] > 0.01).all(), "the best small-model loss is never the large model's loss"
    assert (best["signed_re"] > 0).all(), "small models' losses over-predict the larger target"
    assert best[["E", "A"]].isna().all().all()


def test_outliers_record_the_held_out_models_error():
    sizes = (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)
    family = sl.simulate.family(sizes=sizes, noise=0.0, tokens_per_param=400)
    res = run_experiment("outliers", runs={"f": family})
    assert len(res) == 5 and set(res["held_out"]) == set(family["model"].unique()[:-1])
    assert (res["n_models"] == 4).all()
    assert res["held_out_are"].max() < 1e-4


def test_parameters_recover_the_truth(clean):
    row = run_experiment("parameters", runs=clean).iloc[0]
    for name, value in sl.simulate.BESIROGLU_2024.items():
        assert row[name] == pytest.approx(value, rel=1e-4)


def test_final_points_families_use_sizes_as_models_and_no_cut():
    fam = sl.simulate.family(checkpoints=1, sizes=np.repeat([1e8, 3e8, 1e9, 3e9], 3), noise=0.0)
    fam["n_tokens"] *= np.tile([0.5, 1.0, 2.0], 4)
    fam["model"] = [f"run{i}" for i in range(len(fam))]
    fam["loss"] = sl.laws.chinchilla().predict(
        sl.simulate.BESIROGLU_2024, n_params=fam.n_params, n_tokens=fam.n_tokens
    )
    info = pd.DataFrame({"family": ["pts"], "kind": ["final points"], "paper_name": [None]}).set_index(
        "family"
    )
    shared = {}
    shared["runs"] = {"pts": experiments.Runs(experiments._sizes_as_models(fam.assign(family="pts")))}
    ctx_runs = shared["runs"]["pts"]
    assert len(ctx_runs.models) == 4  # four sizes, three runs each
    exp = EXPERIMENTS["num_models"]
    ctx = experiments.Context("pts", ctx_runs, ctx_runs.target(), info.loc["pts"].to_dict(), shared)
    rows = experiments._rows(exp, ctx, list(exp.cells(ctx)))
    assert {r["cut"] for r in rows} == {0.0}


def test_unknown_experiment():
    with pytest.raises(sl.DataError, match="unknown experiment 'fig9'; experiments: num_models"):
        run_experiment("fig9", runs={})


# -- real families -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt3(sources_root):
    return run_experiment("num_models", ["gpt3"], sources=sources_root)


# Appendix A of our paper notes: the authors' GPT-3 #models x percentage table (100 x ARE, 10B cut).
PAPER_GPT3 = {
    2: [42.11, 34.52, 29.72, 26.55, 25.19, 23.90, 20.94, 17.39, 16.71, 13.18],
    3: [48.28, 44.27, 40.87, 37.30, 35.29, 32.02, 29.39, 26.94, 25.05, 23.36],
    4: [0.18, 2.88, 0.38, 1.58, 3.69, 5.71, 7.68, 9.33, 9.13, 5.73],
    5: [0.74, 0.40, 1.26, 2.98, 4.73, 6.24, 7.83, 7.92, 6.51, 5.20],
    6: [6.03, 4.98, 5.45, 4.79, 4.12, 3.50, 2.65, 1.75, 1.04, 0.81],
    7: [16.74, 14.04, 12.16, 10.29, 8.59, 7.04, 5.67, 4.44, 3.31, 2.69],
}


@pytest.mark.slow
def test_gpt3_table_matches_the_paper_in_most_cells(gpt3):
    """Issue bar: within 2 ARE points of Appendix A in >= 80 % of cells (the k = 2 row is where the
    global optimum and the paper's single-start fit part ways: two sizes do not identify the law)."""
    assert len(gpt3) == 60 and (gpt3["status"] == "ok").all()
    ours = gpt3.assign(k=gpt3["models"].str.count(",") + 1)
    diffs = [abs(100 * r.are - PAPER_GPT3[r.k][round(10 * r.percentage) - 1]) for r in ours.itertuples()]
    assert np.mean(np.array(diffs) <= 2) >= 0.8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["size_windows", "num_to_size", "final_fraction", "scale_down", "outliers"])
def test_experiment_end_to_end_on_pythia(sources_root, name):
    res = run_experiment(name, ["pythia-deduped"], sources=sources_root)
    with_data = res[res["status"] != "no_data"]  # e.g. dropping 99 % of a sparse trajectory leaves nothing
    assert len(with_data) > 0 and (with_data["status"] == "ok").mean() > 0.8
    assert with_data["are"].median() < 0.5


@pytest.mark.slow
def test_one_model_on_olmo_predicts_7b_from_1b(sources_root):
    """Paper §5: OLMo 7B from 1B checkpoints with borrowed (A, alpha): 0.94-1.68 % in its App. A; ours is
    ~4-5 % because the collection averages only the validation sets both models logged (the paper's
    average mixed 23 sets for 1B with ~11 for 7B) and counts 4.42M tokens per step (the paper 4M)."""
    res = run_experiment("one_model", ["olmo"], sources=sources_root)
    one_b = res[(res["largest_train_params"] < 2e9) & (res["status"] == "ok")]
    assert len(one_b) == 10 and one_b["are"].max() < 0.06
