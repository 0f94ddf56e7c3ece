"""OPT (Zhang et al. 2022): validation perplexity trajectories, BIG-bench and lm-eval-harness scores.

Sources:

- ``IBM/ColPret`` ``aggregated_eval/opt_trajectories.csv``: validation perplexity at intermediate
  checkpoints of 6 OPT sizes, from "Training Trajectories of Language Models Across Scales" (Xia et al. 2023).
- ``IBM/ColPret`` ``aggregated_eval/opt.csv``: 6 BIG-bench tasks at the same checkpoints (percent).
- ``EleutherAI/pythia`` ``evals/opt/opt-*.json``: lm-eval-harness results of the 8 released, fully
  trained OPT models (zero-shot), placed at the end of training (300B tokens).

Units: ``val_loss`` in nats; BIG-bench scores and harness accuracies as fractions in [0, 1].

Fixed here:

- ``ppl`` is a **perplexity**; the paper fitted it raw (renamed to ``loss``). Here ``val_loss = ln(ppl)``
  (175B final: ln 9.77 = 2.28 nats).
- ``num_token`` and ``flops`` are **log10** values. Tokens are recomputed as steps x batch size (OPT paper,
  Table 1) and checked against ``10**num_token``; FLOPs are recomputed as 6ND.
- BIG-bench percentages are divided by 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import ACCURACY, NATS, Adapter, Built, Context, Family, parse_size, rows
from scalinglaw.data.families._lmeval import lm_eval_rows
from scalinglaw.data.readers import read_lm_eval_json, read_table
from scalinglaw.data.sources import registry
from scalinglaw.exceptions import DataError

REPO = "IBM/ColPret"
TRAJECTORIES = "aggregated_eval/opt_trajectories.csv"
BIGBENCH = "aggregated_eval/opt.csv"
PYTHIA_REPO = "EleutherAI/pythia"
#: Tokens per optimizer step (global batch size) per OPT size, Zhang et al. 2022, Table 1.
BATCH_TOKENS = {
    "125m": 0.5e6,
    "350m": 0.5e6,
    "1.3b": 1e6,
    "2.7b": 1e6,
    "6.7b": 2e6,
    "13b": 4e6,
    "30b": 4e6,
    "66b": 2e6,
    "175b": 2e6,
}
#: Tokens each released OPT model was trained on (Zhang et al. 2022, §2.2: 300B tokens).
FINAL_TOKENS = 300e9
DATA = "opt-corpus"

FAMILIES = (
    Family(
        "opt",
        "OPT",
        "val_loss",
        "dec",
        DATA,
        note="OPT 125M-175B trajectories (Xia et al. 2023) + final evals",
    ),
)


def build(ctx: Context) -> Built:
    frames = []
    path = ctx.path(REPO, TRAJECTORIES)
    traj = read_table(path, required=["model_size", "steps", "num_token", "ppl"])
    size = traj["model_size"].str.lower()
    unknown = sorted(set(size) - set(BATCH_TOKENS))
    if unknown:
        raise DataError(f"{path}: column 'model_size' has sizes with no known batch size: {unknown}")
    tokens = traj["steps"].to_numpy(float) * size.map(BATCH_TOKENS).to_numpy(float)
    off = np.flatnonzero(np.abs(np.log10(tokens) - traj["num_token"].to_numpy(float)) > 0.01)
    if off.size:
        raise DataError(
            f"{path}: steps x batch disagrees with 10**num_token on rows {list(off[:8])}; "
            "the batch sizes assumed for OPT do not match this file"
        )
    frames.append(
        rows(
            family="opt",
            model="opt-" + size,
            n_params=size.map(parse_size).to_numpy(float),
            n_tokens=tokens,
            step=traj["steps"],
            metric="val_loss",
            value=np.log(traj["ppl"].to_numpy(float)),
            unit=NATS,
            arch="dec",
            data=DATA,
            source=ctx.label(REPO, TRAJECTORIES),
        )
    )

    path = ctx.path(REPO, BIGBENCH)
    bb = read_table(path, required=["size", "steps", "tokens"])
    tasks = [c for c in bb.columns if c.startswith("bigbench__")]
    bsize = bb["size"].str.lower()
    expected = bb["steps"].to_numpy(float) * bsize.map(BATCH_TOKENS).to_numpy(float)
    off = np.flatnonzero(~np.isclose(expected, bb["tokens"].to_numpy(float), rtol=1e-6))
    if off.size:
        raise DataError(f"{path}: column 'tokens' != steps x batch on rows {list(off[:8])}")
    long = bb.melt(id_vars=["size", "steps", "tokens"], value_vars=tasks, var_name="metric")
    long = long[long["value"].notna()]
    frames.append(
        rows(
            family="opt",
            model="opt-" + long["size"].str.lower(),
            n_params=long["size"].map(parse_size).to_numpy(float),
            n_tokens=long["tokens"].to_numpy(float),
            step=long["steps"],
            metric=long["metric"].str.replace("bigbench__", "bigbench/", regex=False),
            value=long["value"].to_numpy(float) / 100.0,
            unit=ACCURACY,
            arch="dec",
            data=DATA,
            source=ctx.label(REPO, BIGBENCH),
        )
    )

    finals = sorted(p for (r, p) in registry() if r == PYTHIA_REPO and p.startswith("evals/opt/"))
    for rel in finals:
        key = rel.rsplit("/", 1)[-1].removeprefix("opt-").removesuffix(".json")
        res = read_lm_eval_json(ctx.path(PYTHIA_REPO, rel))
        metric, value, unit = lm_eval_rows(res)
        frames.append(
            rows(
                family="opt",
                model=f"opt-{key}",
                n_params=parse_size(key),
                n_tokens=FINAL_TOKENS,
                metric=metric,
                value=value,
                unit=unit,
                arch="dec",
                data=DATA,
                source=ctx.label(PYTHIA_REPO, rel),
            )
        )
    return Built(pd.concat(frames, ignore_index=True))


ADAPTER = Adapter("opt", FAMILIES, build)
