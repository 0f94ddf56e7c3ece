"""Reproduce the paper: every experiment's results, its figures and ``report.md``, from one call.

``build(out)`` runs the experiments on the collection, writes one Parquet table per experiment to
``out/results/``, the paper's figures to ``out/figures/`` (PNG and PDF), ``out/report.md`` (each claim of
the paper with our number beside it, and every reference table of its Appendix A compared cell by cell)
and ``out/run.json`` (wall time and fit count; kept out of the report so the report is deterministic).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.data import list_families, load_family
from scalinglaw.experiments import EXPERIMENTS, default_families, family_runs, run_experiment
from scalinglaw.fitting import Fit
from scalinglaw.fitting.reference import curve_fit_paper
from scalinglaw.laws import chinchilla
from scalinglaw.protocol import Runs, are
from scalinglaw.report import claims, compare, figures
from scalinglaw.report import reference as ref

__all__ = ["Build", "build", "write_report"]


@dataclass(frozen=True)
class Build:
    """What :func:`build` did."""

    out: Path
    results: pd.DataFrame
    n_fits: int  #: laws fitted (every cell with data, baselines excluded)
    seconds: float
    files: tuple[Path, ...]


def count_fits(results: pd.DataFrame) -> int:
    """Laws fitted: cells with data of experiments that fit (baselines predict constants)."""
    fitted = results["experiment"].map(
        lambda e: EXPERIMENTS[e].predict == "fit" if e in EXPERIMENTS else True
    )
    return int((fitted & (results["status"] != "no_data")).sum())


def build(
    out: str | Path,
    *,
    experiments: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    sources: Any = None,
    figures_: str = "paper",
    progress: Callable[[str], None] | None = None,
) -> Build:
    """Run ``experiments`` (default all) on ``families`` (default all usable); write it all to ``out``."""
    start = time.perf_counter()
    out = Path(out)
    names = list(EXPERIMENTS) if not experiments else list(experiments)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        from scalinglaw.exceptions import DataError

        raise DataError(f"unknown experiment {unknown[0]!r}; experiments: {', '.join(EXPERIMENTS)}")
    fams = list(families) if families else default_families(sources=sources)
    shared: dict[str, Any] = {}
    frames = [run_experiment(n, fams, sources=sources, shared=shared, progress=progress) for n in names]
    results = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, frame in zip(names, frames, strict=True):
        path = out / "results" / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        files.append(path)
    info = list_families(sources=sources).set_index("family")
    fitted_by_paper = info["paper_name"].fillna("").str.len() > 0
    paper_families = [f for f in fams if f in info.index and fitted_by_paper[f]]
    if figures_ != "none":
        arch = info["arch"].to_dict()
        files += figures.draw(
            results, out / "figures", paper_families=paper_families, arch=arch, runs=shared.get("runs", {}),
            progress=progress,
        )  # fmt: skip
    variants = _variants(results, fams, sources, progress)
    report = out / "report.md"
    report.write_text(write_report(results, paper_families, variants), encoding="utf-8")
    files.append(report)
    n_fits = count_fits(results) + sum(
        count_fits(v) for v in variants.values() if isinstance(v, pd.DataFrame)
    )
    seconds = time.perf_counter() - start
    run = out / "run.json"
    run.write_text(
        json.dumps({"seconds": round(seconds, 2), "fits": n_fits, "experiments": names, "families": fams})
    )
    files.append(run)
    return Build(out, results, n_fits, seconds, tuple(files))


def _variants(
    results: pd.DataFrame, families: Sequence[str], sources: Any, progress: Callable | None
) -> dict:
    """The paper's own processing, rerun where it differs from ours, to explain the differences."""
    out: dict[str, Any] = {}
    has = set(zip(results["experiment"], results["family"], strict=True))
    if ("num_models", "gpt3") in has:
        if progress:
            progress("variant: GPT-3 with the paper's single-start curve_fit")
        out["gpt3_paper_solver"] = _paper_solver(results, family_runs("gpt3", sources=sources))
        out["gpt3_averaged"] = run_experiment(
            "num_models", runs={"gpt3": load_family("gpt3", sources=sources)}
        )
    if ("num_models", "opt") in has:
        if progress:
            progress("variant: OPT fitted on raw perplexity, as the paper's code did")
        opt = load_family("opt", sources=sources)
        ppl = {"opt": opt.assign(loss=np.exp(opt["loss"]))}
        out["opt_perplexity"] = pd.concat(
            [run_experiment(e, runs=ppl) for e in ("num_models", "num_models_no_cut", "one_model")],
            ignore_index=True,
        )
    return out


def _paper_solver(results: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """GPT-3 num_models cells refitted by the paper's curve_fit from its single start."""
    runs = Runs(table)
    target = runs.target()
    window = runs.window(target)
    cells = results[(results["experiment"] == "num_models") & (results["family"] == "gpt3")].copy()
    values = []
    for row in cells.itertuples():
        mask = runs.training(row.models.split(","), percentage=row.percentage, cut=row.cut)
        try:
            params = curve_fit_paper(runs.table[mask])
            values.append(are(Fit(chinchilla(), "lsq", params, np.nan, "ok"), window))
        except (RuntimeError, ValueError):
            values.append(np.nan)
    return cells.assign(are=values, status=np.where(np.isfinite(values), "ok", "failed"))


# -- the markdown ----------------------------------------------------------------------------------


def write_report(results: pd.DataFrame, paper_families: Sequence[str], variants: dict[str, Any]) -> str:
    """``report.md``: the claims table, then every Appendix A table compared cell by cell."""
    from scalinglaw import plots

    lines = ['# Reproducing "A Hitchhiker\'s Guide to Scaling Law Estimation"', ""]
    lines += [
        "Generated by `scalinglaw reproduce`. Numbers are 100 x ARE (mean absolute relative error over the "
        "target's last 30 % of checkpoints) unless stated. Our laws are the *global* least-squares optimum "
        "found by the engine; the paper ran `curve_fit` once from a fixed start. Losses are in nats "
        "everywhere (the paper fitted OPT on raw perplexity). Families: "
        f"{len(set(results['family']))} in total; the cross-family averages use the "
        f"{len(paper_families)} the paper fitted.",
        "",
    ]
    agg = _aggregate(results, "num_models", paper_families, plots)
    claim_list = [
        claims.floor(results, paper_families),
        claims.early_cut(
            results, [f for f in ("opt", "pythia", "pythia-deduped") if f in set(results["family"])]
        ),
    ]
    if agg is not None:
        claim_list += [claims.by_models(agg), claims.third_of_training(agg)]
    claim_list += [claims.own_partial(results, paper_families), claims.baselines(results, paper_families)]
    params = results[results["experiment"] == "parameters"]
    stats: dict[str, float] = {}
    if not params.empty:
        pca_claim, stats = claims.pca(params)
        claim_list += [pca_claim, claims.relations(stats)]
    claim_list += [claims.olmo(results), claims.opt_from_one(results), claims.outliers(results)]
    lines += [
        "## The paper's claims",
        "",
        "| claim | paper | ours | how ours was computed |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.claim} | {c.paper} | {c.ours} | {c.how} |" for c in claim_list]
    if stats:
        shares = ", ".join(f"{k[-1]}: {100 * stats[k]:.3f} %" for k in ("pca1", "pca2", "pca3") if k in stats)
        n = int(stats["n_families"])
        lines += [
            "",
            f"Parameter analysis (Fig. 3, §9), {n} families: variance explained by the first {shares}.",
        ]
    lines += ["", "## Appendix A, table by table", ""]
    for comp, why in _comparisons(results, paper_families, variants, plots):
        lines += [f"### {comp.title}", "", comp.summary() + ".", "", comp.markdown(), ""]
        if why:
            lines += [why, ""]
    return "\n".join(lines)


def _aggregate(
    results: pd.DataFrame, experiment: str, families: Sequence[str], plots: Any
) -> pd.DataFrame | None:
    sel = results[(results["experiment"] == experiment) & results["family"].isin(families)]
    return None if sel.empty else plots.aggregate(sel, experiment=experiment)


def _comparisons(results: pd.DataFrame, paper_families: Sequence[str], variants: dict, plots: Any) -> list:
    """(comparison, explanation) for every reference table whose experiment and family were run."""
    out = []
    ran = set(zip(results["experiment"], results["family"], strict=True))
    if ("num_models", "gpt3") in ran:
        title = "GPT-3: models x percentage, 10B cut (Fig. 1b)"
        comp = compare.num_models(results, "gpt3", ref.GPT3_NUM_MODELS, title)
        out.append((comp, _gpt3_note(comp, variants)))
    for exp, table, name in (
        ("num_models", ref.OPT_NUM_MODELS, "10B cut"),
        ("num_models_no_cut", ref.OPT_NUM_MODELS_NO_CUT, "no cut"),
    ):
        if (exp, "opt") in ran:
            comp = compare.num_models(
                results, "opt", table, f"OPT: models x percentage, {name} (Fig. 5)", exp
            )
            out.append((comp, _opt_note(exp, table, variants)))
    pythia = [f for f in paper_families if "pythia" in f]
    pct, avg = ref.PERCENT_COLUMNS, "macro-average"
    aggregates = (
        ("num_models", pythia, ref.PYTHIA_AGGREGATE, f"Pythia families, {avg}, 10B cut", pct, _PYTHIA_NOTE),
        ("num_models", paper_families, ref.ALL_AGGREGATE, f"All families, {avg}, 10B cut", pct, _ALL_NOTE),
        (
            "num_models_no_cut",
            paper_families,
            ref.ALL_AGGREGATE_NO_CUT,
            f"All families, {avg}, no cut",
            (0.1, 1.0),
            "",
        ),
    )
    for exp, families, table, title, columns, note in aggregates:
        agg = _aggregate(results, exp, families, plots)
        if agg is not None:
            out.append((compare.aggregate(agg, table, title, columns), note))
    for fam, table in (("gpt3", ref.GPT3_NUM_TO_SIZE), ("opt", ref.OPT_NUM_TO_SIZE)):
        if ("num_to_size", fam) in ran:
            title = f"{fam}: models x largest size, full runs (Fig. 1c)"
            out.append((compare.num_to_size(results, fam, table, title), ""))
    for fam, table in ref.ONE_MODEL.items():
        if ("one_model", fam) in ran:
            note = _ONE_MODEL_NOTES.get(fam, "")
            if fam == "opt" and "opt_perplexity" in variants:
                replica = compare.one_model(variants["opt_perplexity"], "opt", table, "")
                note += f" Refitted on raw perplexity as the paper did: {replica.summary()}."
            title = f"{fam}: one model, (A, alpha) fixed (Fig. 6)"
            out.append((compare.one_model(results, fam, table, title), note))
    return out


def _gpt3_note(comp: compare.Comparison, variants: dict) -> str:
    notes = []
    solver = variants.get("gpt3_paper_solver")
    if solver is not None:
        replica = compare.num_models(solver, "gpt3", ref.GPT3_NUM_MODELS, "")
        notes.append(
            f"The same cells refitted with the paper's solver (`curve_fit` from its single start): "
            f"{replica.summary()}. So the remaining gaps are the optimiser's, not the data's: every gap "
            "larger than 2 points is in the rows with 2 or 3 models, where two or three sizes do not pin "
            "down (E, A, alpha) and the single-start fit stops at a different point of a flat valley than "
            "the global optimum (our laws have the lower squared error in every cell)."
        )
    averaged = variants.get("gpt3_averaged")
    if averaged is not None:
        av = compare.num_models(averaged, "gpt3", ref.GPT3_NUM_MODELS, "")
        notes.append(
            "These fits use every digitised reading of the curves, as the paper did; on the collection's "
            f"default table, which averages readings at one x, the same grid gives: {av.summary()}."
        )
    return " ".join(notes)


def _opt_note(experiment: str, table: dict, variants: dict) -> str:
    note = ("Our OPT losses are ln(perplexity), in nats; the paper's code renamed OPT's perplexity column to "
            "'loss' and fitted raw perplexity (9.8-67).")  # fmt: skip
    ppl = variants.get("opt_perplexity")
    if ppl is not None:
        replica = compare.num_models(ppl, "opt", table, "", experiment)
        note += f" Refitted on raw perplexity as the paper did: {replica.summary()}."
    return note


_PYTHIA_NOTE = (
    "The paper's Pythia files are gone upstream; ours are rebuilt from EleutherAI's lm-eval JSONs, the "
    "source the paper used, with LAMBADA perplexity as the loss. The families averaged differ: the paper "
    "excluded v0, intervention and 5-shot sets, as we do, but its Pythia tokens per step and checkpoint "
    "sets may differ from the JSONs that survive."
)
_ALL_NOTE = (
    "The paper's average also covered families that are gone upstream (the MAD LLaMA and Striped Hyena "
    "sweeps, over-training trajectories, its own Pythia table) and fitted OPT on perplexity; ours covers "
    "the families the paper fitted that can be rebuilt, with over-training as final points."
)
_ONE_MODEL_NOTES = {
    "olmo": "Our OLMo loss averages only the validation sets both models logged (the paper averaged 23 "
    "sets for 1B and ~11 for 7B, so its two curves measured different things) and counts 4.42M tokens "
    "per step (checked against the checkpoints' names; the paper used 4M).",
    "opt": "OPT in nats here, raw perplexity in the paper (see above); a fixed (A, alpha) fitted in nats "
    "(Muennighoff et al.'s) cannot carry over to a law of perplexity, which is why the paper's errors here "
    "are large.",
}
