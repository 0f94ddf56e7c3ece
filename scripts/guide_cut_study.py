"""The early-cut study behind scalinglaw.guide.defaults.EARLY_CUT_FRACTION (numbers quoted in docs/guide.md).

For every usable trajectory family of the collection (runs with many checkpoints), fit the Chinchilla law
on the k >= 3 smallest sizes and on every 4 consecutive sizes below the largest, with all checkpoints
that each cut rule keeps, predict the largest model's last 30 % and average the ARE per family; print the
mean and median over families. Then the same with every run truncated at 20B tokens (short runs).

Usage (needs the collection: $SCALINGLAW_SOURCES or network)::

    python scripts/guide_cut_study.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import scalinglaw as sl

RULES = {
    "none": lambda tok, fin: np.ones_like(tok, dtype=bool),
    "absolute 10B": lambda tok, fin: tok > 1e10,
    "relative 10 %": lambda tok, fin: tok > 0.1 * fin,
    "relative 20 %": lambda tok, fin: tok > 0.2 * fin,
    "relative 30 %": lambda tok, fin: tok > 0.3 * fin,
    "guide: min(10B, 10 %)": lambda tok, fin: tok > np.minimum(1e10, 0.1 * fin),
    "guide: min(10B, 20 %)": lambda tok, fin: tok > np.minimum(1e10, 0.2 * fin),
    "guide: min(10B, 30 %)": lambda tok, fin: tok > np.minimum(1e10, 0.3 * fin),
}


def study(truncate: float | None = None) -> pd.DataFrame:
    fams = sl.list_families()
    rows = []
    for name in fams.loc[fams["usable"] & (fams["kind"] == "trajectories"), "family"]:
        runs = sl.load_family(name)
        if truncate is not None:
            runs = runs[runs["n_tokens"] <= truncate].reset_index(drop=True)
        sizes = np.sort(runs["n_params"].unique())
        if len(sizes) < 4:
            continue
        tok = runs["n_tokens"].to_numpy()
        fin = runs.groupby("model")["n_tokens"].transform("max").to_numpy()
        window = (runs["n_params"] == sizes[-1]).to_numpy() & (tok >= 0.7 * fin)
        N, T, L = (runs.loc[window, c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
        cand = sizes[:-1]
        subsets = [cand[:k] for k in range(3, len(cand) + 1)] + [
            cand[i : i + 4] for i in range(len(cand) - 3)
        ]
        for chosen in subsets:
            inside = np.isin(runs["n_params"].to_numpy(), chosen)
            masks = {rule: inside & keep(tok, fin) for rule, keep in RULES.items()}
            fits = sl.fit_many(runs, subsets=list(masks.values()))
            for (rule, mask), fit in zip(masks.items(), fits, strict=True):
                ok = fit.status == "ok" and len(np.unique(runs["n_params"].to_numpy()[mask])) == len(chosen)
                are = float(np.mean(np.abs(fit.predict(N, T) - L) / L)) if ok else np.nan
                rows.append({"family": name, "rule": rule, "are": are})
    table = pd.DataFrame(rows).groupby(["family", "rule"], sort=False)["are"].mean().unstack()
    return table[list(RULES)]


def main() -> None:
    pd.set_option("display.width", 200)
    for title, trunc in (("full runs", None), ("runs truncated at 20B tokens", 2e10)):
        t = study(trunc)
        print(f"\n== {title}: mean ARE (%) per family over subsets; NaN: the rule leaves a size empty")
        print((100 * t).round(2).to_string())
        print("mean over families  ", " | ".join(f"{r}: {100 * v:.2f}" for r, v in t.mean().items()))
        print("median over families", " | ".join(f"{r}: {100 * v:.2f}" for r, v in t.median().items()))


if __name__ == "__main__":
    main()
