"""Every experiment of the paper, declared as data and run through the batched engine.

>>> import scalinglaw as sl
>>> sorted(sl.experiments.EXPERIMENTS)[:3]
['baseline_best', 'baseline_most_trained', 'final_fraction']

An experiment turns one family's runs into *cells* (which models, how much of each run, which cut,
which parameters held) and each cell into one row of a tidy results table (:data:`COLUMNS`): the law
fitted on that cell's checkpoints and its error on the held-out target. All cells of a family are fitted
in one :func:`scalinglaw.fit_many` call. ``reproduce("num_models", families=["gpt3"])`` runs one.

Data: every family comes from :func:`scalinglaw.load_family` (its default loss, in nats), except GPT-3,
whose experiments fit every digitised reading of the validation curves as the paper did
(:func:`scalinglaw.data.families.gpt3.digitised_readings`; the collection averages readings at one x).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.data import list_families, load_family
from scalinglaw.exceptions import DataError
from scalinglaw.fitting import fit_many
from scalinglaw.laws import MUENNIGHOFF_2024
from scalinglaw.protocol import (
    EARLY_CUT,
    MIN_FAMILY_MODELS,
    PERCENTAGES,
    Runs,
    are,
    best_loss_baseline,
    most_trained_baseline,
    signed_re,
)

__all__ = ["COLUMNS", "EXPERIMENTS", "Cell", "Experiment", "model_counts", "reproduce"]

#: Columns of every results table, one row per fitted law (failures included).
COLUMNS = (
    "experiment", "family", "target", "target_params", "scale_up", "n_models", "models",
    "largest_train_params", "smallest_train_params", "percentage", "cut", "start", "fixed",
    "n_points", "flops", "are", "signed_re", "status", "message", "E", "A", "alpha", "B", "beta",
)  # fmt: skip

#: Fig. 4: fractions of the used trajectory dropped from its start (the paper's ColPret ``minimal_cut``,
#: plus 0 = keep everything), applied to the first 70 % of each run.
FINAL_FRACTION_STARTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
#: Fig. 4 and App. D fit on each run's first 70 %, leaving the target's last 30 % unseen.
FIRST_70 = 0.7
#: Fig. 1a: sliding windows of four consecutive sizes.
WINDOW_MODELS = 4
#: App. D: families with 4-19 candidate models are cross-validated.
OUTLIER_CANDIDATES = (4, 19)
#: §5 / App. A: the size term borrowed from Muennighoff et al. (2024) for single-model fits.
MUENNIGHOFF_SIZE_TERM = {"A": MUENNIGHOFF_2024["A"], "alpha": MUENNIGHOFF_2024["alpha"]}


def model_counts(n: int) -> list[int]:
    """The paper's numbers of training models for ``n`` candidates (ColPret ``get_model_nums``)."""
    if n <= 20:
        return list(range(2, n + 1))
    if n <= 60:
        return list(range(2, n + 1, n // 5))
    return list(range(2, n + 1, 10))


@dataclass(frozen=True)
class Cell:
    """One law to fit: its training models and checkpoint selection, and what it holds fixed."""

    models: tuple[str, ...]
    percentage: float = 1.0
    cut: float = EARLY_CUT
    start: float = 0.0
    percentage_of: str = "family"
    fixed: Mapping[str, float] | None = None
    fixed_label: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What a cell generator may look at: the family's runs, target and metadata, and shared results."""

    family: str
    runs: Runs
    target: str
    info: Mapping[str, Any]
    shared: dict[str, Any]


CellMaker = Callable[[Context], Iterable[Cell]]


@dataclass(frozen=True)
class Experiment:
    """A paper experiment: which target, which cells, how to predict, where it appears."""

    name: str
    figure: str
    description: str
    cells: CellMaker
    target: str = "largest"
    predict: str = "fit"  #: "fit", or a baseline: "best_loss" / "most_trained"
    min_models: int = MIN_FAMILY_MODELS
    trajectories_only: bool = False  #: about checkpoints within a run: skip families of final points


# -- cell generators ---------------------------------------------------------------------------------


def _num_models(cut: float) -> CellMaker:
    def cells(ctx: Context) -> Iterable[Cell]:
        cands = ctx.runs.candidates(ctx.target)
        for k in model_counts(len(cands)):
            for p in PERCENTAGES:
                yield Cell(tuple(cands[:k]), percentage=p, cut=cut)

    return cells


def _size_windows(ctx: Context) -> Iterable[Cell]:
    for window in ctx.runs.windows(ctx.runs.candidates(ctx.target), WINDOW_MODELS):
        for p in PERCENTAGES:
            yield Cell(tuple(window), percentage=p)


def _num_to_size(ctx: Context) -> Iterable[Cell]:
    cands = ctx.runs.candidates(ctx.target)
    for k in model_counts(len(cands)):
        for window in ctx.runs.windows(cands, k):
            yield Cell(tuple(window), percentage=1.0)


def _final_fraction(ctx: Context) -> Iterable[Cell]:
    cands = ctx.runs.candidates(ctx.target)
    for k in model_counts(len(cands)):
        for start in FINAL_FRACTION_STARTS:
            yield Cell(tuple(cands[:k]), percentage=FIRST_70, cut=0.0, start=start, percentage_of="model")


def _scale_down(ctx: Context) -> Iterable[Cell]:
    cands = ctx.runs.candidates(ctx.target)  # largest first
    if "pythia" in str(ctx.info.get("paper_name") or ""):
        cands = cands[1:]  # the paper's code drops the largest Pythia model before scaling down
    for k in model_counts(len(cands)):
        for p in PERCENTAGES:
            yield Cell(tuple(cands[:k]), percentage=p)


def _one_model(source: str) -> CellMaker:
    def cells(ctx: Context) -> Iterable[Cell]:
        if source == "muennighoff":
            fixed, label = MUENNIGHOFF_SIZE_TERM, "A,alpha=muennighoff"
        else:
            fixed = _borrowed_size_term(ctx)
            if fixed is None:
                return
            label = "A,alpha=median of other families"
        for model in ctx.runs.models:  # the target too: its own partial training (§5.1)
            for p in PERCENTAGES:
                yield Cell((model,), percentage=p, percentage_of="model", fixed=fixed, fixed_label=label)

    return cells


def _parameters(ctx: Context) -> Iterable[Cell]:
    yield Cell(tuple(ctx.runs.candidates(ctx.target)), percentage=1.0)


def _outliers(ctx: Context) -> Iterable[Cell]:
    cands = ctx.runs.candidates(ctx.target)
    lo, hi = OUTLIER_CANDIDATES
    if not lo <= len(cands) <= hi:
        return
    for left_out in cands:
        rest = tuple(m for m in cands if m != left_out)
        yield Cell(rest, percentage=FIRST_70, percentage_of="model", extra={"held_out": left_out})


_ALL = (
    Experiment(
        "num_models", "Fig. 1b, 5a", "k smallest models x percentage, 10B cut", _num_models(EARLY_CUT)
    ),
    Experiment(
        "num_models_no_cut", "Fig. 5b", "k smallest models x percentage, no early cut", _num_models(0.0)
    ),
    Experiment(
        "size_windows",
        "Fig. 1a",
        "4 consecutive sizes x percentage",
        _size_windows,
        min_models=WINDOW_MODELS + 1,
    ),
    Experiment("num_to_size", "Fig. 1c", "k consecutive sizes x largest size, full runs", _num_to_size),
    Experiment(
        "final_fraction",
        "Fig. 4",
        "k smallest x fraction of the first 70 % dropped",
        _final_fraction,
        trajectories_only=True,
    ),
    Experiment(
        "one_model",
        "Fig. 6, §5, §5.1",
        "one model, (A, alpha) of Muennighoff et al.",
        _one_model("muennighoff"),
        min_models=2,
        trajectories_only=True,
    ),
    Experiment(
        "one_model_borrowed",
        "§5 (beyond the paper)",
        "one model, (A, alpha) = median of the other families' fits",
        _one_model("median"),
        min_models=2,
        trajectories_only=True,
    ),
    Experiment(
        "scale_down",
        "Fig. 8, App. C",
        "predict the smallest model from the k largest",
        _scale_down,
        target="smallest",
    ),
    Experiment(
        "baseline_best", "§5.2", "predict the best training loss", _num_models(EARLY_CUT), predict="best_loss"
    ),
    Experiment(
        "baseline_most_trained",
        "§5.2",
        "predict the most-trained model's loss",
        _num_models(EARLY_CUT),
        predict="most_trained",
    ),
    Experiment(
        "outliers",
        "App. D",
        "leave one model out (4-19 candidates), first 70 % of runs",
        _outliers,
        min_models=OUTLIER_CANDIDATES[0] + 1,
    ),
    Experiment("parameters", "Fig. 3, §9", "one law per family: every model, whole runs", _parameters),
)
#: Every experiment, by name.
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in _ALL}


# -- running ---------------------------------------------------------------------------------------


def family_runs(family: str, *, sources: Any = None) -> pd.DataFrame:
    """The runs an experiment fits for ``family`` (GPT-3: every digitised reading, as the paper)."""
    if family == "gpt3":
        from scalinglaw.data.families.gpt3 import digitised_readings

        return digitised_readings(sources=sources)
    return load_family(family, sources=sources)


def default_families(*, sources: Any = None) -> list[str]:
    """Families the experiments run on: every scaled set with >= 3 sizes, and the paper's 2-size sets.

    OLMo (1B, 7B) and RedPajama-INCITE (2.4B, 6.7B) cannot support a multi-model law, but the paper
    predicts OLMo-7B from OLMo-1B with a borrowed size term (§5); each experiment applies its own
    minimum number of models.
    """
    t = list_families(sources=sources)
    paper_pair = (t["paper_name"].fillna("").str.len() > 0) & (t["n_sizes"] >= 2)
    return t.loc[t["usable"] | paper_pair, "family"].tolist()


def _sizes_as_models(frame: pd.DataFrame) -> pd.DataFrame:
    """For a family of final points, one protocol "model" per size: every run of that size.

    Each point is a separate run's end, so "k models" and "the target's last 30 %" only mean something
    for the runs of one size taken together, as the paper grouped the Chinchilla runs by size.
    """
    label = frame["family"].astype(str) + "-" + frame["n_params"].map(lambda n: f"{n:.4g}")
    return frame.assign(model=label.to_numpy())


def _borrowed_size_term(ctx: Context) -> dict[str, float] | None:
    """Median (A, alpha) of the full-data fits of every other family (never the family itself)."""
    fits = ctx.shared.get("family_fits")
    if fits is None:
        return None
    others = fits[(fits["family"] != ctx.family) & (fits["status"] == "ok")]
    if len(others) < 3:
        return None
    return {"A": float(np.exp(np.median(np.log(others["A"])))), "alpha": float(np.median(others["alpha"]))}


def _final_points(ctx: Context) -> bool:
    return ctx.info.get("kind") == "final points"


def _rows(exp: Experiment, ctx: Context, cells: Sequence[Cell]) -> list[dict[str, Any]]:
    runs, target = ctx.runs, ctx.target
    if _final_points(ctx):
        # The early cut drops the start of each training run; a family of final points has no run to
        # cut into (each point is a run's end), so the cut does not apply to it.
        cells = [replace(c, cut=0.0) for c in cells]
    window = runs.window(target)
    target_params = float(runs.sizes[runs.index(target)])
    masks = [
        runs.training(
            c.models, percentage=c.percentage, cut=c.cut, start=c.start, percentage_of=c.percentage_of
        )
        for c in cells
    ]
    results: list[Any] = [None] * len(cells)
    if exp.predict == "fit":
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(cells):
            groups.setdefault(tuple(sorted((c.fixed or {}).items())), []).append(i)
        for key, idx in groups.items():
            fits = fit_many(runs.table, subsets=[masks[i] for i in idx], fixed=dict(key) or None)
            for i, f in zip(idx, fits, strict=True):
                results[i] = f
    rows = []
    for c, mask, res in zip(cells, masks, results, strict=True):
        train = runs.table[mask]
        # sizes of the requested models, so that cells without data still have a place in the heatmaps
        sizes = pd.Series(runs.sizes[[runs.index(m) for m in c.models]])
        row: dict[str, Any] = {
            "experiment": exp.name,
            "family": ctx.family,
            "target": target,
            "target_params": target_params,
            "n_models": int(train["model"].nunique()),
            "models": ",".join(c.models),
            "largest_train_params": float(sizes.max()),
            "smallest_train_params": float(sizes.min()),
            "percentage": c.percentage,
            "cut": c.cut,
            "start": c.start,
            "fixed": c.fixed_label,
            "n_points": int(mask.sum()),
            "flops": runs.flops(mask),
            **dict(c.extra),
        }
        row["scale_up"] = target_params / row["largest_train_params"]
        prediction: Any
        if not len(train):
            row.update(status="no_data", message="no checkpoint passes the selection")
            prediction = None
        elif exp.predict == "fit":
            row.update(
                status=res.status,
                message=res.message,
                **{k: res.params[k] for k in ("E", "A", "alpha", "B", "beta")},
            )
            prediction = res if res.success else None
        else:
            baseline = best_loss_baseline if exp.predict == "best_loss" else most_trained_baseline
            prediction = baseline(train)
            row.update(status="ok", message="")
        row["are"] = are(prediction, window) if prediction is not None else math.nan
        row["signed_re"] = signed_re(prediction, window) if prediction is not None else math.nan
        if "held_out" in c.extra and prediction is not None:
            held = runs.window(c.extra["held_out"])
            row["held_out_are"] = are(prediction, held)
        rows.append(row)
    return rows


def _family_info(
    families: Sequence[str], runs: Mapping[str, pd.DataFrame] | None, sources: Any
) -> pd.DataFrame:
    """Metadata (kind, paper_name, ...) of each family; user tables are trajectories with no paper name."""
    if runs is not None:
        return pd.DataFrame({"family": list(runs), "kind": "trajectories", "paper_name": None}).set_index(
            "family"
        )
    return list_families(sources=sources).set_index("family").loc[list(families)]


def run_experiment(
    name: str,
    families: Sequence[str] | None = None,
    *,
    runs: Mapping[str, pd.DataFrame] | None = None,
    sources: Any = None,
    shared: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run one experiment; the results table (:data:`COLUMNS`, one row per law).

    Parameters
    ----------
    name
        A key of :data:`EXPERIMENTS`.
    families
        Families of the collection (default: :func:`default_families`).
    runs
        Instead of the collection: your own families, ``{"name": table}``, each table one row per
        checkpoint with ``model``, ``n_params``, ``n_tokens``, ``loss``.
    """
    try:
        exp = EXPERIMENTS[name]
    except KeyError:
        raise DataError(f"unknown experiment {name!r}; experiments: {', '.join(EXPERIMENTS)}") from None
    if runs is not None:
        families = list(runs)
    elif families is None:
        families = default_families(sources=sources)
    info = _family_info(families, runs, sources)
    shared = shared if shared is not None else {}
    if name == "one_model_borrowed" and "family_fits" not in shared:
        shared["family_fits"] = run_experiment(
            "parameters", families, runs=runs, sources=sources, shared=shared
        )
    rows: list[dict[str, Any]] = []
    for family in families:
        if progress:
            progress(f"{name}: {family}")
        table = shared.setdefault("runs", {}).get(family)
        if table is None:
            frame = (
                runs[family].assign(family=family)
                if runs is not None
                else family_runs(family, sources=sources)
            )
            if info.loc[family, "kind"] == "final points":
                frame = _sizes_as_models(frame)
            table = shared["runs"][family] = Runs(frame)
        if len(table.models) < exp.min_models:
            continue
        if exp.trajectories_only and info.loc[family, "kind"] != "trajectories":
            continue
        ctx = Context(family, table, table.target(exp.target), info.loc[family].to_dict(), shared)
        cells = list(exp.cells(ctx))
        if cells:
            rows.extend(_rows(exp, ctx, cells))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    extra = [c for c in frame.columns if c not in COLUMNS]
    return frame.reindex(columns=[*COLUMNS, *extra])


def reproduce(
    experiment: str | Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    *,
    runs: Mapping[str, pd.DataFrame] | None = None,
    sources: Any = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Results of one experiment, several, or all (``None``), on ``families`` (default: all usable).

    ``sl.reproduce("num_models", families=["gpt3"])`` gives the 60 laws of the paper's GPT-3 heatmap
    (Fig. 1b); ``runs={"mine": table}`` runs the experiments on your own family instead.
    """
    if experiment is None:
        names = list(EXPERIMENTS)
    else:
        names = [experiment] if isinstance(experiment, str) else list(experiment)
    shared: dict[str, Any] = {}
    frames = [
        run_experiment(n, families, runs=runs, sources=sources, shared=shared, progress=progress)
        for n in names
    ]
    return pd.concat(frames, ignore_index=True)
