"""The study behind scalinglaw.guide.defaults.MIN_SIZES_FREE: free fit vs borrowing, by number of sizes.

For every usable nats family of the collection, fit windows of 1 to 5 consecutive sizes below the largest
(and the 2 smallest), predict the largest model's last 30 % and compare: all five parameters free; alpha
tied to A by the collection's line (three degrees of freedom); (A, alpha) held at the collection's pair
(median ln A, alpha on the line); and at Muennighoff et al.'s (the paper's §5 choice). Borrowed values
leave out the scored family's group. Prints mean and median ARE per scenario, over windows and per family.

Usage (needs the collection: $SCALINGLAW_SOURCES or network)::

    python scripts/guide_borrow_study.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import scalinglaw as sl
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import defaults as D
from scalinglaw.guide.borrow import collection_prior, family_group


def main() -> None:
    fams = sl.list_families()
    muennighoff = (sl.laws.MUENNIGHOFF_2024["A"], sl.laws.MUENNIGHOFF_2024["alpha"])
    rows = []
    for name in fams.loc[fams["usable"] & (fams["unit"] == "nats"), "family"]:
        runs = sl.load_family(name)
        prior = collection_prior(exclude=[family_group(name)])
        sizes = np.sort(runs["n_params"].unique())
        held = (runs["n_params"] == sizes[-1]).to_numpy()
        final = runs.groupby("model")["n_tokens"].transform("max").to_numpy()
        window = held & (runs["n_tokens"].to_numpy() >= (1 - D.TARGET_FRACTION) * final)
        N, T, L = (runs.loc[window, c].to_numpy() for c in ("n_params", "n_tokens", "loss"))
        cand = sizes[:-1]
        scenarios = {"2 smallest": [cand[:2]]} if len(cand) > 2 else {}
        scenarios |= {
            f"{k} consecutive": [cand[i : i + k] for i in range(len(cand) - k + 1)] for k in (1, 2, 3, 4, 5)
        }
        for scenario, windows in scenarios.items():
            for chosen in windows:
                sub = runs[runs["n_params"].isin(chosen)].reset_index(drop=True)
                sub = sub[fm.early_cut(sub, D.EARLY_CUT, D.EARLY_CUT_TOKENS, D.EARLY_CUT_FRACTION)]
                sub = sub.reset_index(drop=True)
                if len(sub) < 5 or sub["n_tokens"].nunique() < D.MIN_TOKEN_VALUES:
                    continue
                one = len(chosen) == 1
                fits = {
                    "free": None
                    if one
                    else fm.point_fit(sub, "free", objective="lsq", line=None, pair=None, data=None),
                    "tied": None
                    if one
                    else fm.point_fit(sub, "tied", objective="lsq", line=prior.line, pair=None, data=None),
                    "collection pair": fm.point_fit(
                        sub, "fixed", objective="lsq", line=None, pair=prior.pair, data=None
                    ),
                    "Muennighoff": fm.point_fit(
                        sub, "fixed", objective="lsq", line=None, pair=muennighoff, data=None
                    ),
                }
                for how, fit in fits.items():
                    if fit is None:
                        continue
                    are = float(np.mean(np.abs(fit.predict(N, T) - L) / L)) if fit.status == "ok" else np.nan
                    rows.append({"family": name, "scenario": scenario, "how": how, "are": 100 * are})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    summary = table.groupby(["scenario", "how"])["are"].agg(["mean", "median", "count"]).unstack("how")
    print("held-out ARE (%) of the largest model, per fitting choice (over all windows)")
    print(summary.round(2).to_string())
    per_family = table.groupby(["scenario", "how", "family"])["are"].mean()
    macro = per_family.groupby(["scenario", "how"]).agg(["mean", "median", "count"]).unstack("how")
    print("\nthe same, averaged per family first (each family counts once)")
    print(macro.round(2).to_string())


if __name__ == "__main__":
    main()
