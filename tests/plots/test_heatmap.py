"""HeatmapDisplay: pivoting a results table, drawing failures, stars and contours, clear errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from scalinglaw.exceptions import DataError
from scalinglaw.plots import HeatmapDisplay, iso_flop_steps, save, star_cells

nan = np.nan


def results_table(cells, *, family="fam", experiment="num_models") -> pd.DataFrame:
    """cells: (n_models, percentage, are, status, flops) tuples -> a minimal results table."""
    frame = pd.DataFrame(cells, columns=["n_models", "percentage", "are", "status", "flops"])
    return frame.assign(experiment=experiment, family=family, target_params=1e10)


GRID = [
    # n_models, percentage, are, status, flops
    (2, 0.1, 0.40, "ok", 1.0),
    (2, 0.5, 0.12, "ok", 5.0),
    (2, 1.0, 0.08, "ok", 10.0),
    (3, 0.1, nan, "failed", 2.0),
    (3, 0.5, 0.04, "ok", 10.0),
    (3, 1.0, 0.03, "ok", 20.0),
    (4, 0.5, nan, "too_few_points", 20.0),
    (4, 1.0, 0.02, "ok", 40.0),
    # (4, 0.1) was never run: an empty cell
]


@pytest.fixture
def grid_display():
    return HeatmapDisplay.from_results(results_table(GRID))


def test_from_results_pivots_rows_and_columns_ascending(grid_display):
    d = grid_display
    assert d.row_values == [2, 3, 4] and d.col_values == [0.1, 0.5, 1.0]
    assert d.row_ticks == ["2", "3", "4"] and d.col_ticks == ["10%", "50%", "100%"]
    assert d.row_label == "#Train models"
    np.testing.assert_allclose(d.values, [[0.40, 0.12, 0.08], [nan, 0.04, 0.03], [nan, nan, 0.02]])
    assert d.status.tolist() == [["ok"] * 3, ["failed", "ok", "ok"], ["", "too_few_points", "ok"]]
    assert np.isnan(d.flops[2, 0]) and d.flops[1, 0] == 2.0
    assert len(d.cells) == 8 and d.cells["status"].ne("ok").sum() == 2


def test_rows_given_in_any_order_come_out_sorted():
    shuffled = results_table(GRID).sample(frac=1.0, random_state=1)
    d = HeatmapDisplay.from_results(shuffled)
    assert d.row_values == [2, 3, 4] and d.col_values == [0.1, 0.5, 1.0]
    assert d.cells[["n_models", "percentage"]].apply(tuple, axis=1).tolist() == sorted(
        d.cells[["n_models", "percentage"]].apply(tuple, axis=1)
    )


def test_several_laws_in_a_cell_average_the_successful_ones():
    frame = results_table(
        [
            (2, 0.5, 0.10, "ok", 4.0),
            (2, 0.5, 0.20, "ok", 6.0),
            (2, 0.5, 0.90, "failed", 8.0),
            (2, 1.0, nan, "failed", 9.0),
        ]
    )
    d = HeatmapDisplay.from_results(frame)
    assert d.values[0, 0] == pytest.approx(0.15)
    assert d.flops[0, 0] == 6.0  # median compute of the three laws
    assert d.status[0, 1] == "failed"
    assert d.cells[["n_fits", "n_ok"]].values.tolist() == [[3, 2], [1, 0]]


def test_default_axes_come_from_the_experiment():
    frame = results_table(GRID).assign(experiment="final_fraction").rename(columns={"percentage": "start"})
    d = HeatmapDisplay.from_results(frame)
    assert d.col_label.startswith("Fraction of the used trajectory dropped")


def test_size_rows_are_labelled_with_the_scale_up():
    frame = pd.DataFrame(
        {
            "experiment": "one_model_borrowed",
            "family": "gpt3",
            "target_params": 175e9,
            "largest_train_params": [2.7e9, 2.7e9, 175e9, 175e9],
            "percentage": [0.5, 1.0, 0.5, 1.0],
            "are": [0.1, 0.05, 0.02, 0.01],
            "status": "ok",
            "flops": [1.0, 2.0, 3.0, 4.0],
        }
    )
    d = HeatmapDisplay.from_results(frame)
    assert d.row_ticks == ["2.7B (×64)", "175B (target)"]
    assert d.row_label == "Training model (scale-up)"


def test_label_columns_give_the_tick_texts():
    frame = results_table(GRID).assign(n_models_label=lambda f: f["n_models"].map({2: "2", 3: "3", 4: "4+"}))
    assert HeatmapDisplay.from_results(frame).row_ticks == ["2", "3", "4+"]


def test_failed_cells_are_hatched_and_say_why_empty_cells_stay_blank(grid_display):
    d = grid_display.plot()
    assert len(d.failed_) == 2
    corners = sorted((p.get_x(), p.get_y()) for p in d.failed_)
    assert corners == [(-0.5, 0.5), (0.5, 1.5)]  # cells (row 1, col 0) and (row 2, col 1)
    assert all(isinstance(p, Rectangle) and p.get_hatch() for p in d.failed_)
    assert d.text_[1, 0].get_text() == "fail" and d.text_[2, 1].get_text() == "few pts"
    assert d.text_[2, 0] is None  # the empty cell: no text, no patch
    assert d.text_[0, 0].get_text() == "40.00" and d.text_[2, 2].get_text() == "2.00"
    legend_texts = [t.get_text() for t in d.figure_.legends[0].get_texts()]
    assert "no law (see cell)" in legend_texts


def test_annotation_colour_is_readable_on_the_cell(grid_display):
    d = grid_display.plot()
    dark = d.text_[0, 0]  # 40% ARE saturates the colormap: its darkest colour
    light = d.text_[2, 2]  # 2% ARE: nearly the lightest colour
    assert dark.get_color() == "white" and light.get_color() == "black"


def test_values_above_vmax_saturate_and_the_colorbar_says_so(grid_display):
    d = grid_display.plot(vmax=35)
    assert d.im_.norm.vmin == 0 and d.im_.norm.vmax == 35
    assert d.colorbar_.extend == "max"
    assert d.im_.get_array()[0, 0] == pytest.approx(40.0)  # cells show 100 x ARE


def test_stars_and_contours_follow_the_rule(grid_display):
    d = grid_display.plot()
    expected = star_cells(d.values, d.flops)
    assert d.stars_ == expected
    # by hand: 15% -> (0, 1) [12% and 8% to its right, flops 5]; 10% -> (0, 2) [flops 10 = (1, 1), earlier row
    # wins]; 5% -> (1, 1) [flops 10, cheaper than (2, 2)]
    assert expected == {0.15: (0, 1), 0.10: (0, 2), 0.05: (1, 1)}
    stars = [line for line in d.ax_.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 3
    for t, (line, steps) in d.contours_.items():
        r, c = expected[t]
        assert steps.tolist() == iso_flop_steps(d.flops, d.flops[r, c]).tolist()
        assert line.get_color() == "#ff8c00"
    assert d.contours_[0.05][1].tolist() == [2, 1, -1]


def test_stars_false_and_custom_thresholds(grid_display):
    assert grid_display.plot(stars=False).stars_ == {}
    d = HeatmapDisplay.from_results(results_table(GRID)).plot(stars=(0.01,), contour=False)
    assert d.stars_ == {0.01: None} and d.contours_ == {}
    legend_texts = [t.get_text() for t in d.figure_.legends[0].get_texts()]
    assert "cheapest ARE < 1%: none" in legend_texts


def test_stars_need_compute():
    frame = results_table(GRID).drop(columns="flops")
    d = HeatmapDisplay.from_results(frame)
    with pytest.raises(DataError, match="flops"):
        d.plot()
    d.plot(stars=False)  # draws without


def test_signed_errors_use_a_symmetric_range_and_no_stars():
    frame = results_table(GRID).assign(signed_re=lambda f: -f["are"])
    d = HeatmapDisplay.from_results(frame, value="signed_re").plot(vmax=20)
    assert (d.im_.norm.vmin, d.im_.norm.vmax) == (-20, 20) and d.stars_ == {}
    assert d.text_[0, 0].get_text() == "-40.00"


def test_plot_on_given_axes(grid_display):
    fig, axes = plt.subplots(1, 2)
    d = grid_display.plot(ax=axes[1], title="mine")
    assert d.ax_ is axes[1] and d.figure_ is fig and d.ax_.get_title() == "mine"
    assert d.ax_.get_legend() is not None


def test_laws_without_training_data_are_placed_by_the_models_they_asked_for():
    frame = results_table([*GRID, (0, 0.1, nan, "no_data", 0.0)]).assign(models="a,b")
    frame.loc[frame.index[-1], "models"] = "a,b,c,d"
    d = HeatmapDisplay.from_results(frame)
    assert d.row_values == [2, 3, 4] and d.n_unplaced == 0
    assert d.status[2, 0] == "no_data" and d.plot().text_[2, 0].get_text() == "no data"
    # without a models column (or with a NaN size key) such a law cannot be placed: left out, counted
    d = HeatmapDisplay.from_results(frame.drop(columns="models"))
    assert d.row_values == [2, 3, 4] and d.n_unplaced == 1 and d.status[2, 0] == ""
    sizes = frame.assign(largest_train_params=1e9)
    sizes.loc[sizes.index[-1], "largest_train_params"] = nan
    d = HeatmapDisplay.from_results(sizes, rows="largest_train_params", cols="percentage")
    assert d.row_values == [1e9] and d.n_unplaced == 1
    legend_texts = [t.get_text() for t in d.plot().figure_.legends[0].get_texts()]
    assert "1 law without training data not placed" in legend_texts


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "nope"}, r"no rows with family='nope'; family values present: fam, other"),
        ({"experiment": "nope"}, r"no rows with experiment='nope'; experiment values present: num_models"),
        ({}, r"holds 2 families \(fam, other\); pass family=\.\.\., or aggregate them first"),
        ({"family": "fam", "value": "huber"}, r"missing column 'huber' \(found: .*are"),
        ({"family": "fam", "rows": "n_params"}, r"missing column 'n_params'"),
    ],
)
def test_bad_input_raises_a_clear_data_error(kwargs, message):
    frame = pd.concat([results_table(GRID), results_table(GRID, family="other")])
    with pytest.raises(DataError, match=message):
        HeatmapDisplay.from_results(frame, **kwargs)


def test_more_bad_input():
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        HeatmapDisplay.from_results([1, 2, 3])
    with pytest.raises(DataError, match="results is empty"):
        HeatmapDisplay.from_results(results_table([]))
    with pytest.raises(DataError, match="no default heatmap axes for experiment 'mystery'"):
        HeatmapDisplay.from_results(results_table(GRID, experiment="mystery"))
    bad = results_table(GRID)
    bad.loc[0, "n_models"] = nan
    with pytest.raises(DataError, match="1 successful laws have no value in column 'n_models'"):
        HeatmapDisplay.from_results(bad)


def test_save_writes_png_and_pdf_and_closes(grid_display, tmp_path):
    d = grid_display.plot()
    paths = save(d, tmp_path / "sub" / "fig.png")
    assert [p.name for p in paths] == ["fig.png", "fig.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert not plt.fignum_exists(d.figure_.number)
    with pytest.raises(TypeError, match=r"call \.plot\(\) first"):
        save(HeatmapDisplay.from_results(results_table(GRID)), tmp_path / "x")
