"""Fixtures for the plot tests: the Agg backend, and a realistic results table.

The results table is built the way the experiments build theirs: simulated families go through
``protocol.Runs`` (targets, training masks, compute, windows) and ``sl.fit_many``, one row per law with
the results-table columns.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import protocol
from scalinglaw.laws import MUENNIGHOFF_2024

PERCENTAGES = (0.1, 0.3, 0.5, 0.7, 1.0)
FAMILIES = {
    # name: (sizes, law parameters, noise, arch)
    "sim-dec": ((1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9), None, 0.01, "dec"),
    "sim-wide": (
        tuple(np.geomspace(5e7, 6.4e9, 10)),
        {"E": 2.1, "A": 300.0, "alpha": 0.30, "B": 900.0, "beta": 0.30},
        0.02,
        "dec",
    ),
    "sim-encdec": (
        (2e8, 6e8, 2e9, 6e9),
        {"E": 1.5, "A": 900.0, "alpha": 0.40, "B": 3000.0, "beta": 0.38},
        0.01,
        "enc-dec",
    ),
    "sim-v0": ((1e8, 2e8, 4e8, 8e8, 1.6e9), None, 0.03, "dec"),
}
ARCH = {name: spec[3] for name, spec in FAMILIES.items()}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def family_runs(name: str) -> pd.DataFrame:
    sizes, params, noise, _ = FAMILIES[name]
    return sl.simulate.family(params=params, sizes=sizes, noise=noise, seed=len(name), name=name)


def _rows(runs: protocol.Runs, family: str, experiment: str, specs: list[dict], fixed=None) -> list[dict]:
    """Fit every spec (models, percentage, start) on one family and describe each law as a results row."""
    target = specs[0].get("target", runs.target())
    window = runs.window(target)
    masks = [
        runs.training(s["models"], percentage=s["percentage"], cut=0, start=s.get("start", 0.0))
        for s in specs
    ]
    fits = sl.fit_many(runs.table, fixed=fixed, subsets=masks)
    t_params = runs.sizes[runs.index(target)]
    out = []
    for spec, mask, fit in zip(specs, masks, fits, strict=True):
        used = sorted({runs.models[i] for i in np.unique(runs.model_codes()[mask])}, key=runs.index)
        sizes = [runs.sizes[runs.index(m)] for m in spec["models"]]
        status = "no_data" if not mask.any() else fit.status
        ok = status == "ok"
        out.append(
            {
                "experiment": experiment,
                "family": family,
                "target": target,
                "target_params": t_params,
                "scale_up": t_params / max(sizes),
                "n_models": len(used) or len(spec["models"]),
                "models": ",".join(spec["models"]),
                "largest_train_params": max(sizes),
                "smallest_train_params": min(sizes),
                "percentage": spec["percentage"],
                "cut": 0.0,
                "start": spec.get("start", 0.0),
                "fixed": "A,alpha=muennighoff" if fixed else "",
                "n_points": int(mask.sum()),
                "flops": runs.flops(mask),
                "are": protocol.are(fit, window) if ok else np.nan,
                "signed_re": protocol.signed_re(fit, window) if ok else np.nan,
                "status": status,
                "message": fit.message,
                **{k: (fit.params[k] if ok else np.nan) for k in ("E", "A", "alpha", "B", "beta")},
            }
        )
    return out


def build_results(names=tuple(FAMILIES)) -> pd.DataFrame:
    rows: list[dict] = []
    for name in names:
        runs = protocol.Runs(family_runs(name))
        cands = runs.candidates(runs.target())
        grid = [{"models": cands[:k], "percentage": p} for k in range(2, len(cands) + 1) for p in PERCENTAGES]
        rows += _rows(runs, name, "num_models", grid)
        windows = [{"models": w, "percentage": p} for w in runs.windows(cands, 3) for p in PERCENTAGES]
        rows += _rows(runs, name, "size_windows", windows)
        sizes = [{"models": w, "percentage": 1.0} for k in range(2, 5) for w in runs.windows(cands, k)]
        rows += _rows(runs, name, "num_to_size", sizes)
        starts = [
            {"models": cands[:k], "percentage": 0.7, "start": s}
            for k in range(2, len(cands) + 1)
            for s in (0.0, 0.3, 0.6, 0.9)
        ]
        rows += _rows(runs, name, "final_fraction", starts)
        single = [{"models": [m], "percentage": p} for m in runs.models for p in PERCENTAGES]
        rows += _rows(
            runs,
            name,
            "one_model_borrowed",
            single,
            fixed={"A": MUENNIGHOFF_2024["A"], "alpha": MUENNIGHOFF_2024["alpha"]},
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def arch() -> dict[str, str]:
    """Architecture of each simulated family."""
    return dict(ARCH)


@pytest.fixture(scope="session")
def runs_of():
    """family name -> its simulated runs (one row per checkpoint)."""
    return family_runs


@pytest.fixture(scope="session")
def results() -> pd.DataFrame:
    """A results table of four simulated families and five experiments (about 500 laws)."""
    return build_results()
