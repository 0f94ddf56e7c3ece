"""docs/guide.md, executed: its Python blocks in order in one namespace, then its ``scalinglaw`` lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from scalinglaw.cli import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
FENCE = re.compile(r"```(python|bash)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(GUIDE.read_text()) if lang == kind]


@pytest.fixture(scope="module")
def walkthrough(sources_root, tmp_path_factory):
    pytest.importorskip("tensorboard")
    import os

    where = tmp_path_factory.mktemp("walkthrough")
    before = Path.cwd()
    os.chdir(where)
    namespace: dict = {}
    try:
        for block in _blocks("python"):
            exec(compile(block, str(GUIDE), "exec"), namespace)
        yield namespace, where
    finally:
        os.chdir(before)


def test_every_format_gives_the_same_prediction(walkthrough):
    ns, _ = walkthrough
    csv, wandb, tb = ns["csv_result"], ns["wandb_result"], ns["tb_result"]
    assert csv == wandb  # W&B exports keep every digit
    assert tb == pytest.approx(csv, rel=1e-5)  # TensorBoard stores scalars in float32
    for name in ("est", "est_wandb", "est_tb"):
        assert ns[name].mode == "free" and len(ns[name].models) == 5


def test_the_held_out_model_is_predicted(walkthrough):
    ns, _ = walkthrough
    are, actual, lo, hi = ns["csv_result"]
    assert are < 0.05  # the paper's "4 % is the best typically obtained" (§4), give or take
    assert lo <= actual <= hi  # inside the 95 % interval
    assert "far_target" in {d.code for d in ns["est"].diagnostics}


def test_the_decisions_are_the_ones_the_docs_report(walkthrough):
    ns, _ = walkthrough
    c, c4 = ns["c"], ns["c4"]
    assert c.better == "A" and c.p_a_better > 0.99 and -0.30 < c.ratio < -0.20  # 1 vs 44 epochs
    lo, hi = c4.intervals["0.8"]
    assert lo < 0 < hi and 0.3 < c4.p_a_better < 0.9  # 1 vs 4 epochs: undecided
    assert ns["alloc"].n_params * ns["alloc"].n_tokens * 6 == pytest.approx(1e23)


def test_the_command_lines_run(walkthrough, capsys):
    import os

    _, where = walkthrough
    lines = [ln for b in _blocks("bash") for ln in b.splitlines() if ln.startswith("scalinglaw ")]
    assert len(lines) >= 5
    before = Path.cwd()
    os.chdir(where)
    try:
        for line in lines:
            assert main(shlex.split(line)[1:]) == 0, line
    finally:
        os.chdir(before)
    out = capsys.readouterr().out
    assert "P(A better)" in out and "Compute-optimal allocation" in out
    assert (where / "opt-fit" / "estimate.json").is_file() and (where / "opt-fit" / "fit.png").is_file()
