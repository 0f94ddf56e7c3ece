"""The reproduction: results tables, figures, report.md and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalinglaw.cli import main
from scalinglaw.report import build, compare


def test_comparison_counts_agreement_and_marks_far_cells():
    ours = pd.DataFrame([[1.0, 5.0], [np.nan, 3.5]], index=[2, 3], columns=[0.1, 0.2])
    paper = pd.DataFrame([[1.5, 9.0], [2.0, 3.0]], index=[2, 3], columns=[0.1, 0.2])
    comp = compare.Comparison("t", ours, paper)
    assert comp.n_cells == 4 and comp.n_agree == 2
    assert "within 2 points: 2/4 (50 %)" in comp.summary()
    md = comp.markdown()
    assert "**5.00 (9.00)**" in md and "1.00 (1.50)" in md and "– (2.00)" in md


@pytest.fixture(scope="module")
def gpt3_build(tmp_path_factory, sources_root):
    out = tmp_path_factory.mktemp("repro")
    return build(out, experiments=["num_models", "one_model", "parameters"], families=["gpt3", "opt"],
                 sources=sources_root)  # fmt: skip


@pytest.mark.slow
def test_build_writes_results_figures_and_report(gpt3_build):
    out = gpt3_build.out
    for name in ("num_models", "one_model", "parameters"):
        table = pd.read_parquet(out / "results" / f"{name}.parquet")
        assert set(table["family"]) == {"gpt3", "opt"}
    assert (out / "figures" / "fig1b-num-models-gpt3.png").exists()
    assert (out / "figures" / "fig6-one-model-opt.pdf").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["fits"] == gpt3_build.n_fits > 100
    report = (out / "report.md").read_text()
    assert "### GPT-3: models x percentage, 10B cut (Fig. 1b)" in report
    line = report.split("### GPT-3: models x percentage")[1].splitlines()[2]
    agree = int(line.split("within 2 points: ")[1].split("/")[0])
    assert agree >= 48, line  # the bar: >= 80 % of 60 cells
    assert "The same cells refitted with the paper's solver" in report
    assert "Refitted on raw perplexity as the paper did" in report


@pytest.mark.slow
def test_report_is_deterministic(gpt3_build, tmp_path, sources_root):
    again = build(tmp_path, experiments=["num_models", "one_model", "parameters"], families=["gpt3", "opt"],
                  sources=sources_root, figures_="none")  # fmt: skip
    assert (tmp_path / "report.md").read_text() == (gpt3_build.out / "report.md").read_text()
    first = pd.read_parquet(gpt3_build.out / "results" / "num_models.parquet")
    pd.testing.assert_frame_equal(
        first, again.results[again.results["experiment"] == "num_models"].reset_index(drop=True)
    )


def test_cli_reproduce_prints_fits_and_time(tmp_path, sources_root, capsys):
    args = ["reproduce", "--out", str(tmp_path), "-e", "parameters", "-f", "t5-pile", "--figures", "none"]
    code = main([*args, "--sources", str(sources_root)])
    assert code == 0
    out = capsys.readouterr().out
    assert "laws fitted" in out and " s;" in out
    assert (tmp_path / "report.md").exists()


def test_cli_reproduce_unknown_experiment_exits_2(tmp_path, sources_root, capsys):
    code = main(["reproduce", "--out", str(tmp_path), "-e", "fig9", "--sources", str(sources_root)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Error: unknown experiment 'fig9'" in err and "Traceback" not in err


def test_cli_reproduce_rejects_an_unknown_figure_set(tmp_path, capsys):
    code = main(["reproduce", "--out", str(tmp_path), "--figures", "some"])
    assert code == 2
    assert "use 'paper' or 'none'" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_reproduce_runs_every_experiment_on_every_family(tmp_path, sources_root, capsys):
    # the Quick start's main job, end to end (without figures): some cells of some families select no
    # point at all, which must come back as a status, not stop the run
    code = main(["reproduce", "--out", str(tmp_path), "--figures", "none", "--sources", str(sources_root)])
    assert code == 0, capsys.readouterr().err
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["fits"] > 6_000
    assert (tmp_path / "report.md").exists()
