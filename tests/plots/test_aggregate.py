"""Cross-family aggregation: bins, 8+, exclusions, the macro average, imputation, compute shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalinglaw.exceptions import DataError
from scalinglaw.plots import HeatmapDisplay, aggregate, aggregate_by_arch, family_parameters

nan = np.nan


def rows(family, cells, experiment="num_models"):
    """cells: (n_models, percentage, are, status, flops)."""
    frame = pd.DataFrame(cells, columns=["n_models", "percentage", "are", "status", "flops"])
    return frame.assign(family=family, experiment=experiment)


def cell(table, n_models, percentage):
    hit = table[(table["n_models"] == n_models) & np.isclose(table["percentage"], percentage)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_bins_put_every_model_count_from_eight_in_one_row_and_drop_counts_below_two():
    table = pd.concat(
        [
            rows("a", [(n, 1.0, 0.01 * n, "ok", 1.0) for n in (1, 2, 3, 7, 8, 9, 12)]),
            rows("b", [(0, 1.0, nan, "no_data", 0.0)]),
        ]
    )
    out = aggregate(table, experiment="num_models")
    assert out["n_models"].tolist() == [2, 3, 7, 8]
    assert out["n_models_label"].tolist() == ["2", "3", "7", "8+"]
    assert cell(out, 8, 1.0)["are"] == pytest.approx(np.mean([0.08, 0.09, 0.12]))
    assert out.attrs["dropped_rows"] == 2  # 1 model, and a law without data (0 models)
    d = HeatmapDisplay.from_results(out)
    assert d.row_ticks == ["2", "3", "7", "8+"] and d.title == "all · num_models"


def test_counts_between_bins_go_to_the_lower_bin():
    out = aggregate(
        rows("a", [(4, 1.0, 0.4, "ok", 1.0), (5, 1.0, 0.5, "ok", 1.0)]),
        experiment="num_models",
        bins=(2, 4, 8),
    )
    assert out["n_models"].tolist() == [4] and cell(out, 4, 1.0)["are"] == pytest.approx(0.45)
    out = aggregate(rows("a", [(3, 1.0, 0.3, "ok", 1.0)]), experiment="num_models", bins=None)
    assert out["n_models"].tolist() == [3] and out["n_models_label"].tolist() == ["3"]


def test_macro_average_weighs_families_not_laws():
    table = pd.concat(
        [
            rows("many", [(8, 0.5, 0.10, "ok", 1.0), (9, 0.5, 0.10, "ok", 1.0), (10, 0.5, 0.10, "ok", 1.0)]),
            rows("one", [(8, 0.5, 0.30, "ok", 1.0)]),
        ]
    )
    got = cell(aggregate(table, experiment="num_models"), 8, 0.5)
    assert got["are"] == pytest.approx(0.20)  # not the mean over laws, 0.15
    assert got["n_families"] == 2 and got["families"] == "many,one"


def test_excluded_families_are_dropped_case_insensitively():
    table = pd.concat(
        [
            rows("keep", [(2, 1.0, 0.1, "ok", 1.0)]),
            rows("pythia-v0", [(2, 1.0, 0.9, "ok", 1.0)]),
            rows("Pythia-Intervention", [(2, 1.0, 0.9, "ok", 1.0)]),
            rows("pythia-5SHOT", [(2, 1.0, 0.9, "ok", 1.0)]),
        ]
    )
    out = aggregate(table, experiment="num_models")
    assert cell(out, 2, 1.0)["are"] == pytest.approx(0.1)
    assert out.attrs["excluded"] == ["Pythia-Intervention", "pythia-5SHOT", "pythia-v0"]
    assert cell(aggregate(table, experiment="num_models", exclude=()), 2, 1.0)["n_families"] == 4
    with pytest.raises(DataError, match=r"every family of experiment 'num_models' is excluded"):
        aggregate(rows("x-v0", [(2, 1.0, 0.1, "ok", 1.0)]), experiment="num_models")


FILL_ROW = [
    (2, 0.1, nan, "failed", 1.0),  # before the first value: takes the first value (0.2)
    (2, 0.5, 0.2, "ok", 1.0),
    (2, 0.7, nan, "failed", 1.0),  # between 0.2 and 0.4: 0.3
    (2, 0.9, 0.4, "ok", 1.0),
    (2, 1.0, nan, "too_few_points", 1.0),  # after the last value: stays missing
]


def test_fill_imputes_failed_cells_from_the_same_family_row():
    table = pd.concat(
        [rows("a", FILL_ROW), rows("b", [(2, p, 0.1, "ok", 1.0) for p in (0.1, 0.5, 0.7, 0.9, 1.0)])]
    )
    out = aggregate(table, experiment="num_models")
    assert cell(out, 2, 0.1)["are"] == pytest.approx((0.2 + 0.1) / 2)
    assert cell(out, 2, 0.7)["are"] == pytest.approx((0.3 + 0.1) / 2)
    assert cell(out, 2, 1.0)["are"] == pytest.approx(0.1)  # family a left out there
    assert out["n_imputed"].tolist() == [1, 0, 1, 0, 0]
    assert out.attrs["n_imputed"] == 2
    assert cell(out, 2, 1.0)["n_families"] == 1


def test_without_fill_failed_cells_are_left_out():
    table = pd.concat(
        [rows("a", FILL_ROW), rows("b", [(2, p, 0.1, "ok", 1.0) for p in (0.1, 0.5, 0.7, 0.9, 1.0)])]
    )
    out = aggregate(table, experiment="num_models", fill=False)
    assert cell(out, 2, 0.1)["are"] == pytest.approx(0.1) and cell(out, 2, 0.1)["n_families"] == 1
    assert out.attrs["n_imputed"] == 0


def test_a_cell_no_family_has_a_law_in_is_a_failed_cell():
    out = aggregate(
        rows("a", [(2, 0.5, nan, "failed", 1.0), (3, 0.5, 0.1, "ok", 1.0)]), experiment="num_models"
    )
    assert cell(out, 2, 0.5)["status"] == "failed" and np.isnan(cell(out, 2, 0.5)["are"])
    assert HeatmapDisplay.from_results(out).plot().text_[0, 0].get_text() == "fail"


def test_compute_is_each_familys_share_then_the_median():
    table = pd.concat(
        [
            rows("small", [(2, 0.5, 0.1, "ok", 10.0), (2, 1.0, 0.1, "ok", 100.0)]),
            rows("large", [(2, 0.5, 0.1, "ok", 5e20), (2, 1.0, 0.1, "ok", 1e21)]),
            rows("mid", [(2, 0.5, nan, "failed", 3e3), (2, 1.0, 0.1, "ok", 1e4)]),
        ]
    )
    out = aggregate(table, experiment="num_models")
    assert cell(out, 2, 0.5)["flops"] == pytest.approx(0.3)  # median of 0.1, 0.5 and 0.3 (failed laws count)
    assert cell(out, 2, 1.0)["flops"] == pytest.approx(1.0)


def test_only_the_chosen_experiment_is_aggregated():
    table = pd.concat(
        [rows("a", [(2, 1.0, 0.1, "ok", 1.0)]), rows("a", [(2, 1.0, 0.9, "ok", 1.0)], "scale_down")]
    )
    assert cell(aggregate(table, experiment="scale_down"), 2, 1.0)["are"] == pytest.approx(0.9)
    with pytest.raises(
        DataError, match=r"no rows with experiment='nope'; experiment values present: num_models, scale_down"
    ):
        aggregate(table, experiment="nope")
    with pytest.raises(DataError, match=r"missing column 'family'"):
        aggregate(table.drop(columns="family"), experiment="num_models")


def test_per_architecture_aggregates():
    table = pd.concat(
        [
            rows("gpt", [(2, 1.0, 0.1, "ok", 1.0)]),
            rows("opt", [(2, 1.0, 0.3, "ok", 1.0)]),
            rows("t5", [(2, 1.0, 0.5, "ok", 1.0)]),
        ]
    )
    out = aggregate_by_arch(table, {"gpt": "dec", "opt": "dec", "t5": "enc-dec"}, experiment="num_models")
    assert out.set_index("family")["are"].to_dict() == pytest.approx({"dec": 0.2, "enc-dec": 0.5})
    arch = pd.DataFrame({"family": ["gpt", "opt", "t5"], "arch": ["dec", "dec", "enc-dec"]})
    assert aggregate_by_arch(table, arch, experiment="num_models").equals(out)
    assert HeatmapDisplay.from_results(out, family="enc-dec").values[0, 0] == pytest.approx(0.5)
    with pytest.raises(DataError, match=r"arch has no type for 1 families of the results: t5"):
        aggregate_by_arch(table, {"gpt": "dec", "opt": "dec"}, experiment="num_models")


def test_family_parameters_takes_most_models_then_largest_percentage():
    params = {"E": 1.0, "A": 2.0, "alpha": 0.3, "B": 3.0, "beta": 0.4}
    table = pd.DataFrame(
        [
            {"family": "f", "n_models": 3, "percentage": 1.0, "status": "ok", **params, "E": 1.0},
            {"family": "f", "n_models": 4, "percentage": 0.5, "status": "ok", **params, "E": 2.0},
            {"family": "f", "n_models": 4, "percentage": 0.9, "status": "ok", **params, "E": 3.0},
            {"family": "f", "n_models": 4, "percentage": 1.0, "status": "failed", **params, "E": 4.0},
            {"family": "g", "n_models": 2, "percentage": 1.0, "status": "ok", **params, "E": 5.0},
        ]
    ).assign(experiment="num_models")
    out = family_parameters(table, arch={"f": "dec"})
    assert out["E"].tolist() == [3.0, 5.0] and out["arch"].tolist() == ["dec", "unknown"]
    with pytest.raises(DataError, match="no successful law"):
        family_parameters(table.assign(status="failed"))
