"""Does the guide's interval cover what it says? Measured over every usable family of the collection.

For each family: hold out its largest model size (every run of it), run :func:`~scalinglaw.estimate` with
the defaults on the smaller models, and predict each checkpoint of the held-out runs' last 30 % (the
paper's target window, §3.2). A family's coverage at a nominal level is the fraction of those
checkpoints inside the interval; "overall" is the mean over families (and over groups of families from
one study, since e.g. the 16 Datablations families are one experiment). Borrowed parameters leave out the
scored family's group. Families whose losses are not in nats (``t5-pile``, ``revisiting-lm``) are fitted
without borrowing, which transfers nats-scale coefficients.

Beside the coverage: the held-out ARE of the defaults' point estimate and of the paper's settings
(absolute 10B cut, all five parameters fitted, nothing borrowed), and the inflation factor that would
bring coverage closest to nominal, chosen on all families and, to score it honestly, leave-one-group-out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import scalinglaw as sl
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import defaults as D
from scalinglaw.guide.borrow import collection_prior, family_group, scored_families
from scalinglaw.guide.estimate import estimate
from scalinglaw.guide.uncertainty import multiplier

__all__ = ["Calibration", "calibrate", "choose_shape"]

#: Inflation factors searched.
INFLATION_GRID = np.round(np.arange(0.2, 3.0001, 0.01), 2)
#: Student-t degrees of freedom searched (inf: a normal).
DF_GRID = (1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0, 50.0, np.inf)


@dataclass(frozen=True)
class Calibration:
    """The calibration of the guide's intervals on the collection.

    Attributes
    ----------
    families
        One row per family: family, group, n_sizes (fitted), mode, scale_up, are (defaults), are_paper,
        coverage_80, coverage_95 (with the inflation used), width_80, width_95 (relative, hi / lo - 1).
    inflation, df
        The interval shape the coverage was computed with (inflation, Student-t degrees of freedom).
    chosen
        The (inflation, df) closest to nominal on all families.
    logo_shape
        Group -> the (inflation, df) chosen without that group.
    logo
        Coverage (mean over families) when each group's shape is chosen without it.
    z
        Per family, the held-out log errors divided by the interval's scale (for re-scoring).
    """

    families: pd.DataFrame
    inflation: float
    df: float
    levels: tuple[float, ...]
    chosen: tuple[float, float]
    logo_shape: dict[str, tuple[float, float]] = field(default_factory=dict)
    logo: dict[str, float] = field(default_factory=dict)
    z: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def overall(self) -> dict[str, float]:
        """Mean coverage per level over families and over groups, and mean / median ARE of both settings."""
        f = self.families
        out: dict[str, float] = {}
        for lev in self.levels:
            col = f"coverage_{_pct(lev)}"
            out[f"{col}_families"] = float(f[col].mean())
            out[f"{col}_groups"] = float(f.groupby("group")[col].mean().mean())
        out["are_mean"] = float(f["are"].mean())
        out["are_median"] = float(f["are"].median())
        paper = f["are_paper"]
        out["are_paper_mean"] = float(paper.mean())
        out["are_paper_median"] = float(paper.median())
        out["paper_failed"] = int(paper.isna().sum())
        both = f[paper.notna()]
        out["are_both_mean"] = float(both["are"].mean())
        out["are_paper_both_mean"] = float(both["are_paper"].mean())
        out["are_both_median"] = float(both["are"].median())
        out["are_paper_both_median"] = float(both["are_paper"].median())
        return out

    def to_dict(self) -> dict[str, Any]:
        from scalinglaw.guide.estimate import _jsonable

        return _jsonable(
            {
                "inflation": self.inflation,
                "df": self.df,
                "levels": list(self.levels),
                "chosen": list(self.chosen),
                "logo_shape": {g: list(v) for g, v in self.logo_shape.items()},
                "logo_coverage": self.logo,
                "overall": self.overall(),
                "families": self.families.to_dict(orient="records"),
            }
        )

    def to_markdown(self) -> str:
        """The README table: coverage per family and level; ARE of the defaults and the paper's settings."""
        lv = [_pct(x) for x in self.levels]
        head = [
            "family",
            "sizes",
            "mode",
            "scale-up",
            *[f"cover {x} %" for x in lv],
            "ARE defaults",
            "ARE paper",
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
        for r in self.families.itertuples(index=False):
            cells = [
                f"`{r.family}`",
                str(r.n_sizes),
                r.mode,
                f"{r.scale_up:.3g}x",
                *[f"{100 * getattr(r, f'coverage_{x}'):.0f}" for x in lv],
                f"{100 * r.are:.2f} %",
                "failed" if np.isnan(r.are_paper) else f"{100 * r.are_paper:.2f} %",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        o = self.overall()
        lines.append(
            "| **mean over families** | | | | "
            + " | ".join(f"**{100 * o[f'coverage_{x}_families']:.1f}**" for x in lv)
            + f" | **{100 * o['are_mean']:.2f} %** | **{100 * o['are_paper_mean']:.2f} %** |"
        )
        lines.append(
            "| mean over groups | | | | "
            + " | ".join(f"{100 * o[f'coverage_{x}_groups']:.1f}" for x in lv)
            + f" | median {100 * o['are_median']:.2f} % | median {100 * o['are_paper_median']:.2f} % |"
        )
        lines.append(
            "| where both settings fit | | | | "
            + " | ".join("" for _ in lv)
            + f" | mean {100 * o['are_both_mean']:.2f} %, median {100 * o['are_both_median']:.2f} % | mean "
            + f"{100 * o['are_paper_both_mean']:.2f} %, median {100 * o['are_paper_both_median']:.2f} % |"
        )
        n_fam, n_grp = len(self.families), self.families["group"].nunique()
        cover = ", ".join(f"{100 * o[f'coverage_{x}_families']:.1f} % at nominal {x} %" for x in lv)
        logo = ", ".join(f"{100 * self.logo.get(f'coverage_{x}', np.nan):.1f} %" for x in lv)
        note = (
            f"{n_fam} families in {n_grp} groups; held out: every run of each family's largest size, its "
            f"last 30 % of checkpoints. Coverage {cover} with the interval shape used (inflation "
            f"{self.inflation:g}, Student-t with {self.df:g} degrees of freedom). Closest to nominal on all "
            f"families: inflation {self.chosen[0]:g}, {self.chosen[1]:g} degrees of freedom; with the shape "
            f"chosen leave-one-group-out (each group scored with a shape chosen on the others) coverage is "
            f"{logo}. ARE: point estimate of the defaults vs the paper's settings (absolute 10B cut, five "
            f"free parameters, nothing borrowed; {o['paper_failed']} failed or had no data left)."
        )
        return "\n".join(lines) + "\n\n" + note + "\n"


def _pct(level: float) -> str:
    return f"{100 * level:g}"


def _coverage(z: np.ndarray, inflation: float, df: float, level: float) -> float:
    return float(np.mean(np.abs(z) <= multiplier(level, inflation=inflation, df=df)))


def choose_shape(z: dict[str, np.ndarray], levels: Sequence[float] = D.LEVELS) -> tuple[float, float]:
    """(inflation, df) minimising the squared gaps between mean coverage over families and each level."""
    best, best_loss = (1.0, np.inf), np.inf
    mags = [np.abs(v) for v in z.values()]
    for df in DF_GRID:
        base = {lev: multiplier(lev, inflation=1.0, df=df) for lev in levels}
        for k in INFLATION_GRID:
            loss = sum((np.mean([np.mean(m <= k * base[lev]) for m in mags]) - lev) ** 2 for lev in levels)
            if loss < best_loss - 1e-12:
                best, best_loss = (float(k), float(df)), loss
    return best


def calibrate(
    families: Sequence[str] | None = None,
    *,
    inflation: float = D.INTERVAL_INFLATION,
    df: float = D.INTERVAL_DF,
    levels: Sequence[float] = D.LEVELS,
    draws: int = D.DRAWS,
    sources: str | os.PathLike[str] | None = None,
) -> Calibration:
    """Score the guide's defaults on the collection (see the module docstring).

    Parameters
    ----------
    families
        Families to score (default: every usable family).
    inflation, df
        Interval shape to report coverage for (default: the shipped one).
    levels
        Nominal levels.
    draws
        Bootstrap refits per family.
    sources
        Local mirror of the collection's upstream files.
    """
    scored = scored_families(families, sources=sources)
    names = [name for name, _ in scored]
    rows, zs = [], {}
    for name, nats in scored:
        row, z = _score(name, nats, (inflation, df), tuple(levels), draws, sources)
        rows.append(row)
        zs[name] = z
    table = pd.DataFrame(rows)
    groups = {n: family_group(n) for n in names}
    chosen = choose_shape(zs, levels)
    logo_shape: dict[str, tuple[float, float]] = {}
    logo_cov: dict[str, list[float]] = {f"coverage_{_pct(lev)}": [] for lev in levels}
    for g in sorted(set(groups.values())):
        rest = {n: v for n, v in zs.items() if groups[n] != g}
        logo_shape[g] = choose_shape(rest, levels) if rest else chosen
        for n in (n for n in names if groups[n] == g):
            for lev in levels:
                logo_cov[f"coverage_{_pct(lev)}"].append(_coverage(zs[n], *logo_shape[g], lev))
    logo = {k: float(np.mean(v)) for k, v in logo_cov.items()}
    return Calibration(table, inflation, df, tuple(levels), chosen, logo_shape, logo, zs)


def _score(
    name: str, nats: bool, shape: tuple[float, float], levels: tuple[float, ...], draws: int, sources: Any
) -> tuple[dict[str, Any], np.ndarray]:
    runs = sl.load_family(name, sources=sources)[["model", "n_params", "n_tokens", "loss"]]
    largest = runs["n_params"].max()
    held = (runs["n_params"] == largest).to_numpy()
    final = runs.groupby("model")["n_tokens"].transform("max").to_numpy()
    window = held & (runs["n_tokens"].to_numpy() >= (1 - D.TARGET_FRACTION) * final)
    train = runs[~held].reset_index(drop=True)
    prior = collection_prior(exclude=[family_group(name)], sources=sources) if nats else False
    est = estimate(train, borrow=prior, draws=draws, inflation=shape[0], df=shape[1])
    N = runs.loc[window, "n_params"].to_numpy()
    T = runs.loc[window, "n_tokens"].to_numpy()
    L = runs.loc[window, "loss"].to_numpy()
    pred = est.predict(N, T)
    row: dict[str, Any] = {
        "family": name,
        "group": family_group(name),
        "n_sizes": int(train["n_params"].nunique()),
        "mode": est.mode,
        "scale_up": float(largest / train["n_params"].max()),
        "are": float(np.mean(np.abs(pred - L) / L)),
        "are_paper": _paper_are(train, N, T, L),
    }
    for lev in levels:
        lo, hi = est.predict_interval(N, T, level=lev)
        row[f"coverage_{_pct(lev)}"] = float(np.mean((lo <= L) & (hi >= L)))
        row[f"width_{_pct(lev)}"] = float(np.median(hi / lo - 1))
    z = np.log(L / pred) / est.log_scale(N, T)
    return row, z


def _paper_are(train: pd.DataFrame, N: np.ndarray, T: np.ndarray, L: np.ndarray) -> float:
    """ARE of the paper's settings: absolute 10B cut, five free parameters, squared error; NaN if no fit."""
    cut = train[train["n_tokens"] > D.EARLY_CUT_TOKENS]
    if len(cut) < len(fm.PARAMS):
        return float("nan")
    fit = sl.fit(cut, objective="lsq")
    if fit.status != "ok":
        return float("nan")
    return float(np.mean(np.abs(fit.predict(N, T) - L) / L))
