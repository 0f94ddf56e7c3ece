"""What runs cannot identify, borrowed from the collection's fitted families (paper §5 and §9).

Each usable family of the collection whose losses are in nats, with at least
:data:`~scalinglaw.guide.defaults.BORROW_MIN_SIZES` sizes over
:data:`~scalinglaw.guide.defaults.BORROW_MIN_DECADES` decade(s), is fitted with the guide's defaults;
those the law describes (log-residual RMS at most
:data:`~scalinglaw.guide.defaults.BORROW_MAX_RESIDUAL`) and whose fitted parameters are not on a bound
lend them. From them:

- the **line** alpha = c0 + c1 ln A (least squares over families): the paper's §9 finding that (A, alpha)
  move together, so the five parameters have about three degrees of freedom. With two sizes, alpha is
  tied to A by it.
- the **pair** (A, alpha): the median ln A over families, with alpha on the line there. With one size
  both are held there (§5 held them at Muennighoff et al.'s values); bootstrap refits draw the pair of a
  random family instead, so the interval carries how much families differ. (The separate medians of
  ln A and alpha come from different families and sit off the line: ``scripts/guide_borrow_study.py``
  measured them worse.)
- the **data pair** (B, beta): the medians of ln B and beta, held when runs saw fewer than three distinct
  token counts.

The fits take a few seconds and are cached in memory for the session (never written to disk). Without
the collection (no mirror, no network) :func:`paper_prior` gives the paper's own values instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import scalinglaw as sl
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import defaults as D

__all__ = ["PAPER_LINE", "Prior", "collection_prior", "family_group", "paper_prior"]

#: Choshen et al. (2024), code of §9 (``manual_chinchilla_power_law_fit``): alpha = 0.0116280 +
#: 0.05004588 ln A across their families.
PAPER_LINE = (0.0116280, 0.05004588)


@dataclass(frozen=True)
class Prior:
    """Parameters to borrow and where they come from.

    Attributes
    ----------
    line
        (c0, c1) of alpha = c0 + c1 ln A.
    pair
        (A, alpha) held for one size: the median ln A, alpha on the line.
    data_pair
        (B, beta) held when token counts cannot identify them.
    pairs
        (A, alpha) of each lending family (one-size bootstrap refits draw from these).
    families
        The lending families, in the order of ``pairs``.
    source
        ``"collection"`` or ``"paper"``.
    excluded
        Families or groups left out (the calibration leaves out the family scored).
    """

    line: tuple[float, float]
    pair: tuple[float, float]
    data_pair: tuple[float, float]
    pairs: tuple[tuple[float, float], ...]
    families: tuple[str, ...]
    source: str = "collection"
    excluded: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` rebuilds it exactly."""
        return {
            "line": list(self.line),
            "pair": list(self.pair),
            "data_pair": list(self.data_pair),
            "pairs": [list(p) for p in self.pairs],
            "families": list(self.families),
            "source": self.source,
            "excluded": list(self.excluded),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prior:
        """Inverse of :meth:`to_dict`."""
        return cls(
            line=tuple(d["line"]),  # type: ignore[arg-type]
            pair=tuple(d["pair"]),  # type: ignore[arg-type]
            data_pair=tuple(d["data_pair"]),  # type: ignore[arg-type]
            pairs=tuple(tuple(p) for p in d["pairs"]),  # type: ignore[misc]
            families=tuple(d["families"]),
            source=d["source"],
            excluded=tuple(d.get("excluded", ())),
        )


def family_group(name: str) -> str:
    """The group a collection family belongs to: families from one study share it.

    ``gpt2-c4-4`` and ``gpt2-c4-contour`` -> ``datablations``, ``pythia-v0`` -> ``pythia``,
    ``overtrain-c4`` -> ``overtrain``; otherwise the name up to its first dash.

    >>> family_group("gpt2-oscar-14"), family_group("pythia-deduped"), family_group("gpt3")
    ('datablations', 'pythia', 'gpt3')
    """
    head = name.split("-")[0]
    return "datablations" if head == "gpt2" else head


def scored_families(
    families: Iterable[str] | None = None, *, sources: str | os.PathLike[str] | None = None
) -> list[tuple[str, bool]]:
    """(family, whether its losses are in nats) for ``families`` (default: every usable one).

    The families the collection-wide passes (calibration, errors by scale-up) score the guide on.
    """
    fams = sl.list_families(sources=sources)
    names = list(fams.loc[fams["usable"], "family"]) if families is None else list(families)
    units = dict(zip(fams["family"], fams["unit"], strict=True))
    return [(name, units.get(name) == "nats") for name in names]


def paper_prior() -> Prior:
    """The paper's values: its §9 line, and Muennighoff et al. (2024)'s (A, alpha) and (B, beta) (§5)."""
    m = sl.laws.MUENNIGHOFF_2024
    pair = (m["A"], m["alpha"])
    return Prior(PAPER_LINE, pair, (m["B"], m["beta"]), (pair,), ("muennighoff-2024",), source="paper")


_FITS: dict[str | None, dict[str, dict[str, float]]] = {}


def lending_fits(*, sources: str | os.PathLike[str] | None = None) -> dict[str, dict[str, float]]:
    """Family -> fitted parameters (and ``rms``, ``data_ok``) of every family that may lend (cached)."""
    key = None if sources is None else str(sources)
    if key in _FITS:
        return _FITS[key]
    out: dict[str, dict[str, float]] = {}
    fams = sl.list_families(sources=sources)
    for row in fams[fams["usable"] & (fams["unit"] == "nats")].itertuples(index=False):
        runs = sl.load_family(row.family, sources=sources)
        keep = fm.early_cut(runs, D.EARLY_CUT, D.EARLY_CUT_TOKENS, D.EARLY_CUT_FRACTION)
        runs = runs[keep].reset_index(drop=True)
        sizes = np.unique(runs["n_params"])
        if len(sizes) < D.BORROW_MIN_SIZES or np.log10(sizes[-1] / sizes[0]) < D.BORROW_MIN_DECADES:
            continue
        fit = sl.fit(runs, objective=D.OBJECTIVE)
        p = dict(fit.params)
        if fit.status != "ok" or p["A"] <= 0 or {"A", "alpha"} & set(fit.at_bound):
            continue
        pred = fit.predict(runs["n_params"].to_numpy(), runs["n_tokens"].to_numpy())
        rms = float(np.sqrt(np.mean(np.log(runs["loss"].to_numpy() / pred) ** 2)))
        if rms > D.BORROW_MAX_RESIDUAL:
            continue
        data_ok = (
            runs["n_tokens"].nunique() >= D.MIN_TOKEN_VALUES
            and p["B"] > 0
            and not {"B", "beta"} & set(fit.at_bound)
        )
        out[row.family] = {**p, "rms": rms, "data_ok": float(data_ok)}
    _FITS[key] = out
    return out


def collection_prior(*, exclude: Iterable[str] = (), sources: str | os.PathLike[str] | None = None) -> Prior:
    """Borrowable parameters from the collection, leaving out the families or groups in ``exclude``.

    Raises
    ------
    ScalingLawError
        (A :class:`~scalinglaw.SourceError`) when the collection cannot be loaded.
    """
    exclude = tuple(exclude)
    fits = {
        name: p
        for name, p in lending_fits(sources=sources).items()
        if name not in exclude and family_group(name) not in exclude
    }
    if len(fits) < 3:
        raise sl.DataError(
            f"only {len(fits)} collection families can lend parameters after excluding {exclude}"
        )
    names = tuple(sorted(fits))
    lnA = np.array([math.log(fits[n]["A"]) for n in names])
    alpha = np.array([fits[n]["alpha"] for n in names])
    c1, c0 = np.polyfit(lnA, alpha, 1)
    data = [n for n in names if fits[n]["data_ok"]]
    lnB = (
        np.median([math.log(fits[n]["B"]) for n in data]) if data else math.log(sl.laws.MUENNIGHOFF_2024["B"])
    )
    beta = np.median([fits[n]["beta"] for n in data]) if data else sl.laws.MUENNIGHOFF_2024["beta"]
    return Prior(
        line=(float(c0), float(c1)),
        pair=(float(np.exp(np.median(lnA))), float(c0 + c1 * np.median(lnA))),
        data_pair=(float(np.exp(lnB)), float(beta)),
        pairs=tuple((float(fits[n]["A"]), float(fits[n]["alpha"])) for n in names),
        families=names,
        excluded=exclude,
    )
