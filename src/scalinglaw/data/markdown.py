"""The generated families table (docs/families.md and the README block)."""

from __future__ import annotations

import os

import pandas as pd

from scalinglaw.data.table import list_families, load_dataset

__all__ = ["PAPER_MODELS", "families_markdown"]

#: Distinct pretrained models in the paper's collection (Choshen et al. 2024, §3.1: "485 unique pretrained
#: models").
PAPER_MODELS = 485


def _num(x: float) -> str:
    if pd.isna(x):
        return "-"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            v = x / div
            return f"{v:.3g}{suffix}"
    return f"{x:.3g}"


def _range(lo: float, hi: float) -> str:
    return _num(lo) if lo == hi else f"{_num(lo)}-{_num(hi)}"


def families_markdown(*, sources: str | os.PathLike[str] | None = None) -> str:
    """Markdown table of every family, plus the total number of distinct models vs the paper's 485."""
    fams = list_families(sources=sources)
    table = load_dataset(sources=sources)
    lines = [
        "| family | paper name | kind | models | sizes (params) | tokens | checkpoints "
        "| default metric (unit) "
        "| metrics | arch | usable |",
        "|---|---|---|---:|---|---|---:|---|---:|---|:-:|",
    ]
    for r in fams.itertuples(index=False):
        lines.append(
            f"| `{r.family}` | {r.paper_name or '-'} | {r.kind} | {r.n_models} | "
            f"{_range(r.min_params, r.max_params)} ({r.n_sizes}) | {_range(r.min_tokens, r.max_tokens)} | "
            f"{r.n_checkpoints} | `{r.metric}` ({r.unit or '-'}) | {r.n_metrics} | {r.arch} | "
            f"{'yes' if r.usable else 'no'} |"
        )
    n_models = table["model"].nunique()
    n_usable = int(fams["usable"].sum())
    extra = table[table["family"].astype(str).str.startswith("steplaw")]["model"].nunique()
    lines += [
        "",
        f"**{len(fams)} families ({n_usable} usable for multi-model fits), {n_models:,} distinct models, "
        f"{len(table):,} rows.** Without the Step Law grids (an extra family, not in the paper): "
        f"{n_models - extra:,} distinct models, against the paper's {PAPER_MODELS}. Sizes in parameters "
        "(distinct sizes in brackets); tokens and checkpoints count rows of the default metric. Families of "
        "independent runs count every run as a model; docs/collection.md reconciles the count.",
    ]
    return "\n".join(lines) + "\n"
