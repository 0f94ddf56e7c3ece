"""OLMo (Groeneveld et al. 2024): W&B validation losses and downstream scores of OLMo-1B, OLMo-7B and
OLMo-7B-Twin-2T.

Source: ``IBM/ColPret`` ``aggregated_eval/olmo.csv`` (aggregated from the ~100 W&B exports under
``raw_data/OLMO/``, with each row's Hugging Face revision).

Units: per-domain cross-entropies in nats (``*/CrossEntropyLoss``); downstream scores as fractions.

Fixed here:

- Each model logged a different set of validation domains (1B: 23 "v2-small-"/"v3-small-" sets; 7B: 13; Twin:
  up to 11). The paper averaged whatever a row had. Here every domain is its own metric
  ``val_loss/<domain>`` (1B's ``v2-small-<domain>`` is the same evaluation set as 7B's ``<domain>``;
  ``v3-small`` sets are kept as ``val_loss/v3-small/<domain>``), and the default ``val_loss`` is the mean
  over the six domains every model logged at every step: 4chan, gab, m2d2_wiki, manosphere, mc4_en,
  wikitext_103 (rows lacking one of them get no ``val_loss``).
- ``*/Perplexity`` columns are exp of the matching cross-entropy; dropped as redundant (counted).
- Tokens: ``step * 4,423,680`` (2160 sequences x 2048 tokens), checked against the ``tokensNNNB`` in every
  row's checkpoint revision; the paper's ``step * 4e6`` is 10 % low.
- Downstream scores above 1 (a logging artefact in some exports: accuracies up to 1.72) are dropped and
  counted.
- Sizes are the source's nominal 1B / 7B (the model cards give 1.18B and 6.89B; not in the mirrored files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import (
    ACCURACY,
    NATS,
    Adapter,
    Built,
    Context,
    Drop,
    Family,
    parse_size,
    rows,
)
from scalinglaw.data.readers import read_table
from scalinglaw.exceptions import DataError

REPO = "IBM/ColPret"
PATH = "aggregated_eval/olmo.csv"
#: Tokens per optimizer step: 2160 sequences x 2048 tokens (matches every checkpoint revision name).
TOKENS_PER_STEP = 2160 * 2048
#: Validation domains logged by every OLMo model at every step; their mean is ``val_loss``.
COMMON_DOMAINS = ("4chan", "gab", "m2d2_wiki", "manosphere", "mc4_en", "wikitext_103")
DATA = "dolma"

FAMILIES = (
    Family("olmo", "olmo", "val_loss", "dec", DATA, note="OLMo-1B and OLMo-7B (2 sizes)"),
    Family(
        "olmo-7b-twin-2t",
        None,
        "val_loss",
        "dec",
        DATA,
        note="OLMo-7B-Twin-2T (other hardware; excluded from the paper's family)",
    ),
)
_FAMILY_OF = {"OLMo-1B": "olmo", "OLMo-7B": "olmo", "OLMo-7B-Twin-2T": "olmo-7b-twin-2t"}


def _metric_name(column: str) -> str | None:
    """Metric name of a CrossEntropyLoss column: 'v2-small-gab-validation/...' -> 'val_loss/gab'."""
    base = column.split("/")[0].removesuffix("-validation")
    if base.startswith("v3-small-"):
        return "val_loss/v3-small/" + base.removeprefix("v3-small-")
    return "val_loss/" + base.removeprefix("v2-small-")


def build(ctx: Context) -> Built:
    path = ctx.path(REPO, PATH)
    raw = read_table(path, required=["Step", "model_name", "num_params", "checkpoint"])
    raw["model_name"] = raw["model_name"].str.strip()  # 'OLMo-1B ' has a trailing space
    unknown = sorted(set(raw["model_name"]) - set(_FAMILY_OF))
    if unknown:
        raise DataError(f"{path}: column 'model_name' has unknown models {unknown}")
    tokens = raw["Step"].to_numpy(float) * TOKENS_PER_STEP
    stated = raw["checkpoint"].str.extract(r"tokens(\d+)B")[0].astype(float) * 1e9
    off = np.flatnonzero(stated.notna() & (np.abs(stated - tokens) > 1e9))
    if off.size:
        raise DataError(
            f"{path}: step x {TOKENS_PER_STEP} disagrees with the checkpoint revision on rows {list(off[:8])}"
        )

    ce_cols = [c for c in raw.columns if c.endswith("CrossEntropyLoss")]
    acc_cols = [c for c in raw.columns if c.startswith("downstream/")]
    ppl_cols = [c for c in raw.columns if c.endswith("/Perplexity")]
    base = pd.DataFrame(
        {
            "family": raw["model_name"].map(_FAMILY_OF),
            "model": raw["model_name"].str.lower(),
            "n_params": raw["num_params"].map(parse_size),
            "n_tokens": tokens,
            "step": raw["Step"],
        }
    )
    # 1B logs "v2-small-<d>" where 7B logs "<d>": the same set under two names, never both on one row.
    ce = pd.DataFrame(index=raw.index)
    for col in ce_cols:
        name = _metric_name(col)
        if name in ce.columns:
            clash = np.flatnonzero(ce[name].notna().to_numpy() & raw[col].notna().to_numpy())
            if clash.size:
                raise DataError(f"{path}: rows {list(clash[:8])} log domain {name!r} under two column names")
            ce[name] = ce[name].combine_first(raw[col])
        else:
            ce[name] = raw[col]
    ce["val_loss"] = ce[[f"val_loss/{d}" for d in COMMON_DOMAINS]].mean(axis=1, skipna=False)
    acc = raw[acc_cols].rename(columns={c: c.removeprefix("downstream/") for c in acc_cols})

    frames, drops = [], []
    label = ctx.label(REPO, PATH)
    for table, unit in ((ce, NATS), (acc, ACCURACY)):
        long = pd.concat([base, table], axis=1).melt(id_vars=list(base.columns), var_name="metric")
        long = long[long["value"].notna()]
        if unit == ACCURACY:
            over = long["value"] > 1
            drops.append(Drop("olmo", label, int(over.sum()), "downstream score > 1 (logging artefact)"))
            long = long[~over]
            units = np.where(long["metric"].str.endswith("_f1"), "f1", ACCURACY)
        else:
            units = unit
        frames.append(
            rows(
                family=long["family"],
                model=long["model"],
                n_params=long["n_params"].to_numpy(float),
                n_tokens=long["n_tokens"].to_numpy(float),
                step=long["step"],
                metric=long["metric"],
                value=long["value"].to_numpy(float),
                unit=units,
                arch="dec",
                data=DATA,
                source=label,
            )
        )
    n_ppl = int(raw[ppl_cols].notna().sum().sum())
    drops.append(Drop("olmo", label, n_ppl, "*/Perplexity values (exp of the stored cross-entropy)"))
    return Built(pd.concat(frames, ignore_index=True), drops)


ADAPTER = Adapter("olmo", FAMILIES, build)
