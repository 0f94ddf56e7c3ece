"""The guide against the collection: what is borrowed, the extrapolation-error table, the calibration."""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw.guide import borrow, collection_prior, estimate
from scalinglaw.guide import defaults as D
from scalinglaw.guide._collection_errors import TABLE
from scalinglaw.guide.calibration import calibrate
from scalinglaw.guide.extrapolation import scale_up_errors, summarize

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- calibration:start[^\n]*-->\n(.*?)<!-- calibration:end -->", re.S)


@pytest.fixture(scope="module")
def prior(sources_root):
    return collection_prior(sources=sources_root)


def test_lending_families_and_the_line(prior, sources_root):
    fams = sl.list_families(sources=sources_root).set_index("family")
    assert len(prior.families) >= 5
    for name in prior.families:
        assert fams.loc[name, "usable"] and fams.loc[name, "unit"] == "nats"
        assert fams.loc[name, "n_sizes"] >= D.BORROW_MIN_SIZES
    assert not any(f.startswith("gzip") for f in prior.families)  # the law fits them at 30-55 % RMS
    # the collection's alpha-ln A line is the paper's (alpha = 0.0116 + 0.0500 ln A) within noise
    c0, c1 = prior.line
    assert abs(c1 - borrow.PAPER_LINE[1]) < 0.01 and abs(c0 - borrow.PAPER_LINE[0]) < 0.05
    lnA = [math.log(a) for a, _ in prior.pairs]
    assert min(lnA) < math.log(prior.pair[0]) < max(lnA)


def test_leaving_a_group_out(sources_root):
    p = collection_prior(exclude=["pythia"], sources=sources_root)
    assert p.excluded == ("pythia",) and not any(f.startswith("pythia") for f in p.families)


def test_unavailable_collection_falls_back_to_the_paper(monkeypatch):
    estimate_module = importlib.import_module("scalinglaw.guide.estimate")  # the module, not the function

    def unavailable(**_):
        raise sl.SourceError("no network")

    monkeypatch.setattr(estimate_module, "collection_prior", unavailable)
    runs = sl.simulate.family(sizes=(1e8, 4e8), seed=0)
    est = estimate(runs, draws=10)
    assert est.borrowed["source"] == "paper"
    assert "collection_unavailable" in {d.code for d in est.diagnostics}


def test_collection_error_table_is_current(sources_root):
    """The committed table (scripts/make_collection_errors.py) is what the code computes now."""
    fresh = summarize(scale_up_errors(sources=sources_root))
    committed = pd.DataFrame(TABLE)
    assert list(fresh["fits"]) == list(committed["fits"])
    assert list(fresh["families"]) == list(committed["families"])
    for col in ("median_are", "p90_are"):
        assert np.allclose(fresh[col], committed[col], rtol=1e-4, atol=1e-6, equal_nan=True), col


def _readme_rows() -> dict[str, str]:
    match = BLOCK.search(README.read_text())
    assert match, "README has no calibration block"
    return {
        line.split("|")[1].strip(" `"): line for line in match.group(1).splitlines() if line.startswith("| `")
    }


def test_calibration_rows_in_readme_are_current(sources_root):
    """A cheap subset (a free fit, a tied fit, a family without borrowing) regenerates its README rows."""
    cal = calibrate(["opt", "gpt2-c4-1", "revisiting-lm"], sources=sources_root)
    rows = _readme_rows()
    fresh = {
        line.split("|")[1].strip(" `"): line
        for line in cal.to_markdown().splitlines()
        if line.startswith("| `")
    }
    for name, line in fresh.items():
        assert rows.get(name) == line, f"README row of {name} is stale; run `scalinglaw calibrate --markdown`"
    modes = dict(zip(cal.families["family"], cal.families["mode"], strict=True))
    assert modes == {"opt": "free", "gpt2-c4-1": "tied", "revisiting-lm": "free"}


@pytest.mark.slow
def test_calibration_block_and_shipped_shape_are_current(sources_root):
    """The whole README block, and the interval shape in defaults.py is the one calibration chooses."""
    cal = calibrate(sources=sources_root)
    match = BLOCK.search(README.read_text())
    assert match.group(1) == cal.to_markdown(), "README calibration block is stale: regenerate it"
    assert cal.chosen == (D.INTERVAL_INFLATION, D.INTERVAL_DF)
    overall = cal.overall()
    for level in D.LEVELS:  # the target: within 5 points of nominal (leave-one-group-out too)
        assert abs(overall[f"coverage_{100 * level:g}_families"] - level) <= 0.05
        assert abs(cal.logo[f"coverage_{100 * level:g}"] - level) <= 0.05
