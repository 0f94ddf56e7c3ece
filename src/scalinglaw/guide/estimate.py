"""The guide in one function: your runs in; a law, a prediction with an honest interval, and advice out.

>>> import scalinglaw as sl
>>> runs = sl.simulate.family(seed=0, run_noise=0.01)       # 6 sizes, 100M-3.2B, 20 checkpoints each
>>> est = sl.estimate(runs, target_params=1.28e10, target_tokens=2.56e11, draws=20)
>>> est.settings["fit_mode"]["value"]
'free'
>>> lo, hi = est.predict_interval(1.28e10, 2.56e11, level=0.9)
>>> bool(lo < est.predict(1.28e10, 2.56e11) < hi)
True
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import scalinglaw as sl
from scalinglaw.exceptions import DataError, LawError, ScalingLawError
from scalinglaw.fitting import Fit
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import defaults as D
from scalinglaw.guide.borrow import Prior, collection_prior, paper_prior
from scalinglaw.guide.extrapolation import collection_error
from scalinglaw.guide.inputs import UserRuns, data_hash, read_runs
from scalinglaw.guide.uncertainty import bootstrap, log_draws, multiplier, run_scatter, scale, spread

__all__ = ["FORMAT", "Diagnostic", "Estimate", "estimate"]

#: Identifies the JSON written by :meth:`Estimate.save`.
FORMAT = "scalinglaw.estimate/1"
_FILE = "estimate.json"


@dataclass(frozen=True)
class Diagnostic:
    """A warning or note about an estimate: a machine-readable ``code`` and a sentence for people."""

    code: str
    message: str
    severity: str = "warning"  #: ``"warning"`` (act on it) or ``"info"``

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def _setting(value: Any, default: Any, why: str) -> dict[str, Any]:
    return {"value": value, "default": default, "why": why}


@dataclass(frozen=True)
class Estimate:
    """A fitted law with uncertainty, the settings that produced it and what to watch out for.

    Attributes
    ----------
    fit
        The point fit (an engine :class:`~scalinglaw.Fit`; borrowed parameters appear as fixed).
    mode
        ``"free"`` (all five parameters fitted), ``"tied"`` (alpha tied to A by the collection's line) or
        ``"fixed"`` ((A, alpha) borrowed).
    draws
        Bootstrap refits, shape (n_draws, 5): E, A, alpha, B, beta (NaN rows: refits that failed).
    run_sd
        Scatter of whole runs around the law (standard deviation of per-run mean log residuals).
    settings
        Every setting used: name -> {"value", "default", "why"}.
    diagnostics
        Warnings and notes, each with a code.
    borrowed
        What was borrowed from which families (None if nothing was).
    models
        One row per run: model, n_params, checkpoints, used, min_tokens, max_tokens, final_loss, fitted_final.
    target
        (n_params, n_tokens) of the requested prediction, or None.
    provenance
        How each input column was obtained.
    source
        What the runs were read from.
    data_hash
        sha256 of the runs (model, n_params, n_tokens, loss).
    data
        The runs with a boolean ``used`` column (not saved; None after :meth:`load`).
    """

    fit: Fit
    mode: str
    draws: np.ndarray = field(repr=False)
    run_sd: float
    settings: Mapping[str, Mapping[str, Any]] = field(repr=False)
    diagnostics: tuple[Diagnostic, ...] = ()
    borrowed: Mapping[str, Any] | None = None
    models: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    target: tuple[float, float] | None = None
    provenance: Mapping[str, str] = field(default_factory=dict, repr=False)
    source: str = ""
    data_hash: str = ""
    data: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    # -- predictions ---------------------------------------------------------------------------
    @property
    def params(self) -> Mapping[str, float]:
        """The point estimate's parameters (E, A, alpha, B, beta)."""
        return self.fit.params

    def predict(self, n_params: Any, n_tokens: Any) -> np.ndarray:
        """Point prediction of the loss (nats) at ``n_params`` parameters trained on ``n_tokens`` tokens."""
        return self.fit.predict(n_params, n_tokens)

    def predict_interval(
        self, n_params: Any, n_tokens: Any, level: float = 0.9
    ) -> tuple[np.ndarray, np.ndarray]:
        """Interval (low, high) for the loss of a new run at (``n_params``, ``n_tokens``), broadcast.

        ``level`` is the nominal coverage (0.9: the loss falls outside 10 % of the time if the interval is
        calibrated; the collection's measured coverage is in the README). See
        :mod:`scalinglaw.guide.uncertainty` for the construction.
        """
        center = np.log(np.asarray(self.predict(n_params, n_tokens), dtype=float))
        k = multiplier(
            level,
            inflation=float(self.settings["interval_inflation"]["value"]),
            df=float(self.settings["interval_df"]["value"]),
        )
        half = k * self.log_scale(n_params, n_tokens)
        return np.exp(center - half), np.exp(center + half)

    def log_scale(self, n_params: Any, n_tokens: Any) -> np.ndarray:
        """The interval's scale (log) at (n_params, n_tokens): sqrt(s_boot^2 + max(s_run, s_seed)^2)."""
        shape = np.broadcast_shapes(np.shape(n_params), np.shape(n_tokens))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            logs = log_draws(self.fit.law, self.draws, n_params, n_tokens)
            sd = spread(logs) if len(logs) > 1 else np.zeros(shape)
        sd = np.where(np.isfinite(sd), sd, 0.0)
        return scale(sd, run_sd=self.run_sd, seed_noise=float(self.settings["seed_noise"]["value"]))

    def prediction(
        self, n_params: float, n_tokens: float, levels: tuple[float, ...] = D.LEVELS
    ) -> dict[str, Any]:
        """The loss at one point with an interval per level, the scale-up and the collection's error there."""
        largest = float(self.models["n_params"].max())
        longest = float(self.models["max_tokens"].max())
        out: dict[str, Any] = {
            "n_params": float(n_params),
            "n_tokens": float(n_tokens),
            "loss": float(self.predict(n_params, n_tokens)),
            "intervals": {},
            "scale_up": float(n_params) / largest,
            "tokens_ratio": float(n_tokens) / longest,
        }
        for lev in levels:
            lo, hi = self.predict_interval(n_params, n_tokens, level=lev)
            out["intervals"][f"{lev:g}"] = [float(lo), float(hi)]
        err = collection_error(out["scale_up"])
        out["collection_median_are"] = err["median_are"]
        return out

    # -- reports -------------------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text report: law, mode, prediction, borrowed parameters, diagnostics."""
        from scalinglaw.guide.report import summary_text

        return summary_text(self)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None) -> Any:
        """Data, the law per size, the target and its band (see :mod:`scalinglaw.guide.report`)."""
        from scalinglaw.guide.report import plot_estimate

        return plot_estimate(self, ax=ax)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to reproduce the numbers, JSON-ready (what ``--json`` prints)."""
        d = {
            "format": FORMAT,
            "version": sl.__version__,
            "fit": self.fit.to_dict(),
            "mode": self.mode,
            "run_sd": self.run_sd,
            "draws": [[_json_float(x) for x in row] for row in self.draws],
            "settings": _jsonable(self.settings),
            "diagnostics": [x.to_dict() for x in self.diagnostics],
            "borrowed": _jsonable(self.borrowed),
            "models": _jsonable(self.models.to_dict(orient="records")),
            "target": None if self.target is None else list(self.target),
            "prediction": None if self.target is None else self.prediction(*self.target),
            "provenance": dict(self.provenance),
            "source": self.source,
            "data_hash": self.data_hash,
        }
        return _jsonable(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        """Rebuild an estimate written by :meth:`to_dict` (predictions are identical)."""
        if d.get("format") != FORMAT:
            raise DataError(f"not a saved estimate (format {d.get('format')!r}, expected {FORMAT!r})")
        return cls(
            fit=Fit.from_dict(d["fit"]),
            mode=d["mode"],
            draws=np.array([[float(x) for x in row] for row in d["draws"]], dtype=float).reshape(
                -1, len(fm.PARAMS)
            ),
            run_sd=float(d["run_sd"]),
            settings=d["settings"],
            diagnostics=tuple(Diagnostic(x["code"], x["message"], x["severity"]) for x in d["diagnostics"]),
            borrowed=d["borrowed"],
            models=pd.DataFrame.from_records(d["models"]),
            target=None if d["target"] is None else (float(d["target"][0]), float(d["target"][1])),
            provenance=d["provenance"],
            source=d["source"],
            data_hash=d["data_hash"],
        )

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``<directory>/estimate.json`` (created if needed); :meth:`load` gives the same numbers."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        out = path / _FILE
        out.write_text(json.dumps(self.to_dict(), indent=1))
        return out

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Estimate:
        """Read an estimate saved by :meth:`save` (a directory, or the JSON file itself)."""
        path = Path(directory)
        file = path / _FILE if path.is_dir() else path
        if not file.is_file():
            raise DataError(
                f"{path}: no saved estimate ({_FILE}); write one with `scalinglaw fit RUNS --out DIR`"
            )
        try:
            d = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(d)


def _json_float(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return _json_float(x)
    if x is pd.NA:
        return None
    return x


# ------------------------------------------------------------------------------------------ estimate


def estimate(
    runs: Any,
    *,
    target_params: float | None = None,
    target_tokens: float | None = None,
    law: str = "chinchilla",
    objective: str = D.OBJECTIVE,
    mode: str = "auto",
    cut: str = D.EARLY_CUT,
    cut_tokens: float = D.EARLY_CUT_TOKENS,
    cut_fraction: float = D.EARLY_CUT_FRACTION,
    borrow: bool | Prior = True,
    draws: int = D.DRAWS,
    seed: int = D.SEED,
    seed_noise: float = D.SEED_NOISE,
    inflation: float = D.INTERVAL_INFLATION,
    df: float = D.INTERVAL_DF,
    allow_single_run: bool = False,
    sources: str | os.PathLike[str] | None = None,
    **read_options: Any,
) -> Estimate:
    """Fit your runs the way the paper recommends and predict the loss at a target scale, with an interval.

    Parameters
    ----------
    runs
        A DataFrame (``model, n_params, n_tokens, loss``, or your names with ``columns=``), a path (CSV,
        Parquet, JSON lines, a W&B export or a directory of them, a TensorBoard log directory) or
        :class:`~scalinglaw.guide.inputs.UserRuns`. One run is one model.
    target_params, target_tokens
        The scale to predict (parameters, tokens). ``target_tokens`` defaults to 20 tokens per parameter
        (Chinchilla-optimal) when only ``target_params`` is given.
    law
        Only ``"chinchilla"`` (E + A / N^alpha + B / D^beta), the paper's form; use :func:`scalinglaw.fit`
        for others.
    objective
        ``"lsq"`` (default, the paper's) or ``"huber_log"`` (then two sizes borrow (A, alpha) outright).
    mode
        ``"auto"`` (default): ``"free"`` with three or more sizes, ``"tied"`` with two, ``"fixed"`` with one;
        or force ``"tied"`` / ``"fixed"`` (borrowing more than the sizes require).
    cut, cut_tokens, cut_fraction
        The early cut (§6.1). ``"relative"`` (default): each run drops its checkpoints with tokens <=
        min(``cut_tokens``, ``cut_fraction`` x its final tokens), i.e. the paper's first 10B tokens when
        the run is long enough (>= 50B with the defaults 10B and 0.2), else its first 20 %; a run's final
        checkpoint is always kept. ``"absolute"``: the paper's rule, tokens <= ``cut_tokens`` dropped, so
        shorter runs vanish. ``"none"``: keep everything.
    borrow
        Borrow what the runs cannot identify from the collection (True), from a given
        :class:`~scalinglaw.guide.borrow.Prior`, or never (False).
    draws, seed
        Bootstrap refits over whole runs, and their seed.
    seed_noise, inflation, df
        The interval's seed-noise floor, and its calibrated inflation and Student-t degrees of freedom.
    allow_single_run
        Accept a single run (the paper's §5 single-model fit, with (A, alpha) borrowed); otherwise one
        run is an error.
    sources
        The collection's local mirror, for borrowing (default ``$SCALINGLAW_SOURCES``).
    **read_options
        ``columns``, ``params``, ``batch_tokens``, ``metric``, ``tokens_metric``, ``perplexity``, ``format``:
        see :func:`~scalinglaw.guide.inputs.read_runs`.

    Returns
    -------
    Estimate

    Raises
    ------
    DataError
        Malformed runs (one line naming the problem).
    ScalingLawError
        Bad options, or a fit that cannot be made.
    """
    if law != "chinchilla":
        raise LawError(
            f"the guide fits the Chinchilla form only (got law={law!r}); use scalinglaw.fit for others"
        )
    if objective not in sl.fitting.OBJECTIVES:
        raise LawError(f"unknown objective {objective!r}; choose one of {', '.join(sl.fitting.OBJECTIVES)}")
    if cut not in fm.CUTS:
        raise ScalingLawError(f"unknown cut {cut!r}; choose one of {', '.join(fm.CUTS)}")
    _check_options(target_params, target_tokens, cut_tokens, cut_fraction, draws, seed_noise, inflation)
    if not df > 0:
        raise ScalingLawError(f"df == {df}, must be > 0 (inf for a normal)")
    user = runs if isinstance(runs, UserRuns) else read_runs(runs, **read_options)
    if isinstance(runs, UserRuns) and read_options:
        raise ScalingLawError(f"options {sorted(read_options)} apply when reading runs, not to UserRuns")
    table = user.table
    n_runs = table["model"].nunique()
    if n_runs < 2 and not allow_single_run:
        raise DataError(
            f"{user.source}: only one run ({table['model'].iloc[0]!r}); a scaling law needs runs of several "
            "sizes (the paper recommends 5). To extrapolate from one run with (A, alpha) borrowed from the "
            "collection (paper §5), pass --allow-single-run"
        )
    keep = fm.early_cut(table, cut, cut_tokens, cut_fraction)
    used = table[keep].reset_index(drop=True)
    if len(used) < 3:
        raise DataError(
            f"{user.source}: the {cut} early cut leaves {len(used)} checkpoints; use --cut relative or none"
        )
    diagnostics: list[Diagnostic] = []
    sizes = np.sort(used["n_params"].unique())
    n_sizes = len(sizes)
    do_borrow = borrow is not False
    if mode not in ("auto", *fm.MODES):
        raise ScalingLawError(f"unknown mode {mode!r}; choose auto, {', '.join(fm.MODES)}")
    if mode in ("tied", "fixed") and not do_borrow:
        raise ScalingLawError(
            f"mode {mode!r} borrows from the collection; it cannot be used with borrowing off"
        )
    asked = mode
    auto = fm.mode_for(n_sizes, borrow=do_borrow, min_free=D.MIN_SIZES_FREE)
    mode = auto if asked in ("auto", "free") else min(asked, auto, key=lambda m: fm.MODES[::-1].index(m))
    if asked == "free" and auto != "free":
        raise ScalingLawError(f"{n_sizes} size(s) cannot identify all five parameters; use mode auto")
    if mode == "tied" and objective != "lsq":
        mode = "fixed"  # the tie is solved exactly only for squared error
    if n_sizes == 1 and not do_borrow:
        raise ScalingLawError(
            "all runs have one size and borrowing is off: nothing determines how loss changes with size"
        )
    borrow_data = used["n_tokens"].nunique() < D.MIN_TOKEN_VALUES
    if borrow_data and not do_borrow:
        raise ScalingLawError(
            f"the runs saw {used['n_tokens'].nunique()} distinct token counts, too few to fit (B, beta); "
            "allow borrowing"
        )

    prior_cache: list[Prior] = []

    def prior() -> Prior:
        if not prior_cache:
            prior_cache.append(_resolve_prior(borrow, sources, diagnostics))
        return prior_cache[0]

    data = None
    if borrow_data:
        data = {"B": prior().data_pair[0], "beta": prior().data_pair[1]}
    needs_prior = mode != "free"
    point = fm.point_fit(
        used,
        mode,
        objective=objective,
        line=prior().line if needs_prior else None,
        pair=prior().pair if needs_prior else None,
        data=data,
    )
    if point.status != "ok":
        raise ScalingLawError(f"the fit failed ({point.status}: {point.message}); check the runs")
    # Resamples that lose sizes need the prior; it is resolved (the collection loaded) only if one does.
    resampling = _bootstrap(used, mode, objective, data, do_borrow, draws, seed, prior)
    predicted = point.predict(used["n_params"].to_numpy(), used["n_tokens"].to_numpy())
    run_sd = run_scatter(used, predicted)

    if target_params is not None and target_tokens is None:
        target_tokens = 20.0 * float(target_params)
        diagnostics.append(
            Diagnostic(
                "target_tokens_default", "no target tokens given: used 20 tokens per parameter", "info"
            )
        )
    target = None if target_params is None else (float(target_params), float(target_tokens))  # type: ignore[arg-type]
    borrowed = _borrowed(mode, point, data, prior_cache[0] if prior_cache else None)
    settings = _settings(
        objective,
        (cut, cut_tokens, cut_fraction),
        (asked, mode),
        n_sizes,
        do_borrow,
        draws,
        seed,
        seed_noise,
        (inflation, df),
        borrow_data,
    )
    models = _models(table, keep, point)
    data_table = table.assign(used=keep)
    diagnostics += _diagnose(
        used, models, point, mode, n_sizes, run_sd, target, borrowed, resampling.n_ok, draws, table, keep, cut
    )
    return Estimate(
        fit=point,
        mode=mode,
        draws=resampling.params,
        run_sd=run_sd,
        settings=settings,
        diagnostics=tuple(diagnostics),
        borrowed=borrowed,
        models=models,
        target=target,
        provenance=dict(user.provenance),
        source=user.source,
        data_hash=data_hash(table),
        data=data_table,
    )


def _check_options(
    target_params, target_tokens, cut_tokens, cut_fraction, draws, seed_noise, inflation
) -> None:
    for name, value in (("target_params", target_params), ("target_tokens", target_tokens)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ScalingLawError(f"{name} == {value!r}, must be a positive number")
    if target_tokens is not None and target_params is None:
        raise ScalingLawError("target_tokens given without target_params")
    if not (cut_tokens >= 0 and 0 <= cut_fraction <= 1):
        raise ScalingLawError(
            f"cut_tokens == {cut_tokens}, cut_fraction == {cut_fraction}: need >= 0 and in [0, 1]"
        )
    if draws < 2:
        raise ScalingLawError(f"draws == {draws}, must be at least 2")
    if seed_noise < 0 or inflation <= 0:
        raise ScalingLawError("seed_noise must be >= 0 and inflation > 0")


def _resolve_prior(borrow: bool | Prior, sources: Any, diagnostics: list[Diagnostic]) -> Prior:
    if isinstance(borrow, Prior):
        return borrow
    try:
        return collection_prior(sources=sources)
    except ScalingLawError as exc:
        diagnostics.append(
            Diagnostic(
                "collection_unavailable",
                f"could not load the collection to borrow from ({str(exc)[:120]}); borrowed the paper's own "
                "values instead (its §9 line and Muennighoff et al. 2024's (A, alpha), as in §5)",
            )
        )
        return paper_prior()


def _bootstrap(used, mode, objective, data, do_borrow, draws, seed, prior: Callable[[], Prior]):
    return bootstrap(
        used,
        mode=mode,
        draws=draws,
        seed=seed,
        objective=objective,
        prior=prior if do_borrow else None,
        data=data,
        min_free=D.MIN_SIZES_FREE,
    )


def _borrowed(
    mode: str, fit: Fit, data: Mapping[str, float] | None, prior: Prior | None
) -> dict[str, Any] | None:
    if prior is None:
        return None
    what = []
    if mode == "free":
        what.append(
            "bootstrap resamples left with fewer than 3 sizes tied alpha to A (or held (A, alpha)) as "
            "the point fit would have"
        )
    if mode == "tied":
        c0, c1 = prior.line
        what.append(
            f"alpha tied to A by alpha = {c0:.4g} + {c1:.4g} ln A (paper §9: three degrees of freedom), "
            f"giving A = {fit.params['A']:.4g}, alpha = {fit.params['alpha']:.4g}"
        )
    if mode == "fixed":
        what.append(
            f"(A, alpha) = ({prior.pair[0]:.4g}, {prior.pair[1]:.4g}): the median ln A over families, alpha "
            "on their line (paper §5, §9)"
        )
    if data is not None:
        what.append(f"(B, beta) = ({data['B']:.4g}, {data['beta']:.4g}), the median over families")
    return {
        "what": what,
        "from": list(prior.families),
        "source": prior.source,
        "line": list(prior.line),
        "pair": list(prior.pair),
        "data_pair": list(prior.data_pair),
    }


def _settings(objective, cut_info, modes, n_sizes, do_borrow, draws, seed, seed_noise, shape, bd):
    cut, cut_tokens, cut_fraction = cut_info
    asked, mode = modes
    inflation, df = shape
    why_mode = {
        "free": f"{n_sizes} sizes: all five parameters fitted",
        "tied": "2 sizes cannot identify (A, alpha): alpha tied to A by the collection's line (paper §9)",
        "fixed": "1 size cannot identify (A, alpha): both borrowed from the collection (paper §5)",
    }[mode]
    if mode == "free" and n_sizes < D.MIN_SIZES_FREE:
        why_mode = f"{n_sizes} sizes and borrowing off: all five fitted, but (A, alpha) are not identifiable"
    if (
        asked in ("tied", "fixed")
        and mode == asked
        and mode != fm.mode_for(n_sizes, borrow=True, min_free=D.MIN_SIZES_FREE)
    ):
        why_mode = f"asked for: {why_mode.split(': ', 1)[1]}"
    return {
        "law": _setting(
            "chinchilla", "chinchilla", "L = E + A / N^alpha + B / D^beta, the paper's form (§2)"
        ),
        "objective": _setting(objective, D.OBJECTIVE, "squared error in nats, the paper's objective (§2)"),
        "checkpoints": _setting(
            "intermediate", "intermediate", "every checkpoint after the early cut (§6: not just final losses)"
        ),
        "cut": _setting(
            cut,
            D.EARLY_CUT,
            "drop the start of each run: its first 10B tokens, or its first 20 % if shorter (§6.1)",
        ),
        "cut_tokens": _setting(cut_tokens, D.EARLY_CUT_TOKENS, "the paper's early cut in tokens (§6.1)"),
        "cut_fraction": _setting(
            cut_fraction, D.EARLY_CUT_FRACTION, "the most of a run the cut takes (measured on the collection)"
        ),
        "fit_mode": _setting(mode, "auto", why_mode),
        "borrow": _setting(
            do_borrow, True, "borrow what the runs cannot identify from the collection (§5, §9)"
        ),
        "borrow_data_term": _setting(bool(bd), False, "(B, beta) borrowed when fewer than 3 token counts"),
        "draws": _setting(
            draws, D.DRAWS, "bootstrap refits resampling whole runs (checkpoints are correlated)"
        ),
        "seed": _setting(seed, D.SEED, "seed of the resampling"),
        "seed_noise": _setting(
            seed_noise,
            D.SEED_NOISE,
            "floor under the run scatter in intervals: seed-to-seed variation (§1, §4)",
        ),
        "interval_inflation": _setting(
            inflation, D.INTERVAL_INFLATION, "interval width multiplier calibrated on the collection"
        ),
        "interval_df": _setting(
            df, D.INTERVAL_DF, "Student-t degrees of freedom of the interval, calibrated on the collection"
        ),
    }


def _models(table: pd.DataFrame, keep: np.ndarray, fit: Fit) -> pd.DataFrame:
    t = table.assign(used=keep)
    g = t.groupby("model", sort=False)
    out = pd.DataFrame(
        {
            "model": list(g.groups),
            "n_params": g["n_params"].first().to_numpy(),
            "checkpoints": g.size().to_numpy(),
            "used": g["used"].sum().to_numpy(),
            "min_tokens": g["n_tokens"].min().to_numpy(),
            "max_tokens": g["n_tokens"].max().to_numpy(),
            "final_loss": g["loss"].last().to_numpy(),
        }
    )
    out["fitted_final"] = fit.predict(out["n_params"].to_numpy(), out["max_tokens"].to_numpy())
    return out.sort_values(["n_params", "model"], ignore_index=True)


def _diagnose(used, models, fit, mode, n_sizes, run_sd, target, borrowed, n_ok, draws, table, keep, cut):
    out: list[Diagnostic] = []
    sizes = np.sort(used["n_params"].unique())
    decades = float(np.log10(sizes[-1] / sizes[0]))
    if n_sizes < D.MIN_MODELS:
        out.append(
            Diagnostic(
                "few_models",
                f"{n_sizes} model size{'s' if n_sizes != 1 else ''}: the paper finds 5 a safe bet (§8); "
                "expect wide intervals",
            )
        )
    if n_sizes > 1 and decades < D.MIN_DECADES:
        out.append(
            Diagnostic(
                "narrow_sizes",
                f"sizes span {decades:.2f} decades (less than one): the size exponent is poorly determined",
            )
        )
    if borrowed is not None:
        out.append(
            Diagnostic(
                "borrowed",
                "; ".join(borrowed["what"]) + f"; from {len(borrowed['from'])} {borrowed['source']} families",
                "info",
            )
        )
    if mode == "free" and n_sizes < D.MIN_SIZES_FREE:
        out.append(
            Diagnostic(
                "not_identifiable", "two sizes cannot identify (A, alpha) apart from E; allow borrowing"
            )
        )
    for name in fit.at_bound:
        out.append(
            Diagnostic(
                "at_bound",
                f"{name} ended on its bound ({fit.params[name]:.4g}): the runs do not determine it",
                "info",
            )
        )
    if run_sd > D.LACK_OF_FIT:
        out.append(
            Diagnostic(
                "lack_of_fit",
                f"runs scatter {100 * run_sd:.1f} % around the law (more than {100 * D.LACK_OF_FIT:g} %): "
                "the form "
                "does not describe them well; the interval includes this scatter",
            )
        )
    dropped = int((~keep).sum())
    if dropped:
        gone = models[models["used"] == 0]
        msg = f"early cut ({cut}) dropped {dropped} of {len(keep)} checkpoints"
        if len(gone):
            names = ", ".join(map(str, gone["model"][:5])) + (" ..." if len(gone) > 5 else "")
            msg += f", whole runs {names} (no checkpoint left)"
        out.append(Diagnostic("early_cut", msg, "warning" if len(gone) else "info"))
    if n_ok < draws / 2:
        out.append(Diagnostic("resampling_failed", f"only {n_ok} of {draws} bootstrap refits succeeded"))
    if used["loss"].median() < 0.5 and borrowed is not None:
        out.append(
            Diagnostic(
                "units",
                f"median loss {used['loss'].median():.3g}: borrowed parameters assume nats per token",
            )
        )
    if target is not None:
        N, Dt = target
        scale = N / sizes[-1]
        err = collection_error(scale)
        where = f"{err['low']:g}-{err['high']:g}x" if math.isfinite(err["high"]) else f">= {err['low']:g}x"
        text = (
            f"target is {scale:.3g}x the largest run's size; on the collection, held-out predictions at "
            f"{where} "
            f"scale-up are off by {100 * err['median_are']:.1f} % (median ARE; 90th percentile "
            f"{100 * err['p90_are']:.0f} %, {err['fits']} fits)"
        )
        if scale > D.FAR_SCALE_UP:
            out.append(Diagnostic("far_target", text))
        else:
            out.append(Diagnostic("scale_up", text, "info"))
        longest = float(table["n_tokens"].max())
        if Dt > 10 * longest:
            out.append(
                Diagnostic(
                    "far_tokens",
                    f"target tokens are {Dt / longest:.3g}x the longest run: the data term extrapolates",
                    "info",
                )
            )
    return out
