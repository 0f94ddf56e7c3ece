"""Datablations (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models"): GPT-2-style models
trained with repeated data.

Sources (``IBM/ColPret``):

- ``aggregated_eval/datablations_losses.csv``: validation-loss trajectories of 2.8B / 4.2B / 8.7B models
  trained for 55B / 84B / 178B tokens on C4 or OSCAR, with the unique data repeated 1, 2, 3, 4, 5, 7, 14 or
  44 times: the paper's 16 scaled sets ``GPT2-{c4,oscar}-{epochs}`` -> ``gpt2-{c4,oscar}-{epochs}``.
- ``aggregated_eval/datablations_contour_losses.csv``: 229 final points (20 sizes, 7M-8.7B) of the C4
  contour runs -> ``gpt2-c4-contour`` (not fitted by the paper).
- ``aggregated_eval/datablations_code_losses.csv``: 9 4.2B runs on C4 mixed with 10-90 % Python code
  -> ``gpt2-c4-code`` (not fitted by the paper).

Units: losses in nats. The main file's loss rises late in the 44-epoch runs (over-fitting), so it is a
validation loss.

Fixed here:

- The CSV's ``flops`` column falls as tokens grow (flops x tokens is constant); it is discarded and FLOPs
  are 6ND.
- ``epochs`` is the number of passes over the unique data at that checkpoint, ``n_tokens / tokens_per_epoch``.
- Code runs: the column ``Seed`` (1 or 2) is not a seed. Both values share one TensorBoard run per code
  fraction, and Seed 2 losses (0.55-0.96) are those of code while Seed 1 losses (2.5-3.6) are C4-like.
  The paper
  read them as two losses and averaged them into NaN; here Seed 1 is ``val_loss`` (C4) and Seed 2 is
  ``code_val_loss`` of the same model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import NATS, Adapter, Built, Context, Family, parse_size, rows
from scalinglaw.data.readers import read_table
from scalinglaw.exceptions import DataError

REPO = "IBM/ColPret"
MAIN = "aggregated_eval/datablations_losses.csv"
CONTOUR = "aggregated_eval/datablations_contour_losses.csv"
CODE = "aggregated_eval/datablations_code_losses.csv"
#: Repetition counts of the paper's scaled sets (Muennighoff et al. 2023, Fig. 3).
EPOCHS = (1, 2, 3, 4, 5, 7, 14, 44)
#: Code runs: the ``Seed`` value of the C4 loss and of the code loss (see the module docstring).
CODE_SEED_C4, CODE_SEED_PYTHON = 1, 2

_SCALED = tuple(
    Family(
        f"gpt2-{data}-{ep}",
        f"GPT2-{data}-{ep}",
        "val_loss",
        "dec",
        data,
        note=f"2.8B/4.2B/8.7B on {data.upper()} unique data repeated {ep}x",
    )
    for data in ("c4", "oscar")
    for ep in EPOCHS
)
FAMILIES = (
    *_SCALED,
    Family(
        "gpt2-c4-contour",
        None,
        "val_loss",
        "dec",
        "c4",
        kind="final points",
        scaled=False,
        note="229 final C4 runs, 20 sizes x epochs (datablations contours); repeats data, so not a "
        "Chinchilla-scaled set: fit it with the data_constrained law",
    ),
    Family(
        "gpt2-c4-code",
        None,
        "val_loss",
        "dec",
        "c4+python",
        scaled=False,
        note="4.2B on C4 + 10-90% Python; C4 and code losses",
    ),
)


def _main(ctx: Context) -> pd.DataFrame:
    path = ctx.path(REPO, MAIN)
    raw = read_table(path, required=["data", "epochs", "token_num", "loss", "num_params", "tokens_per_epoch"])
    bad = sorted(set(raw["epochs"]) - set(EPOCHS))
    if bad:
        raise DataError(f"{path}: column 'epochs' has values {bad} outside the paper's sets {EPOCHS}")
    size = raw["num_params"].map(parse_size).to_numpy(float)
    tokens = raw["token_num"].to_numpy(float)
    family = "gpt2-" + raw["data"] + "-" + raw["epochs"].astype(str)
    return rows(
        family=family,
        model="datablations-"
        + raw["num_params"].str.lower()
        + "-"
        + raw["data"]
        + "-"
        + raw["epochs"].astype(str)
        + "x",
        n_params=size,
        n_tokens=tokens,
        metric="val_loss",
        value=raw["loss"].to_numpy(float),
        unit=NATS,
        arch="dec",
        data=raw["data"],
        epochs=tokens / raw["tokens_per_epoch"].to_numpy(float),
        source=ctx.label(REPO, MAIN),
    )


def _contour(ctx: Context) -> pd.DataFrame:
    path = ctx.path(REPO, CONTOUR)
    raw = read_table(path, required=["epochs", "token_num", "openLM_loss", "num_params", "model_args"])
    names = raw["model_args"].str.extract(r"'name':\s*'([^']+)'")[0]
    if names.isna().any():
        raise DataError(
            f"{path}: column 'model_args' lacks a run name on rows {list(np.flatnonzero(names.isna()))[:8]}"
        )
    return rows(
        family="gpt2-c4-contour",
        model="datablations-contour-" + names,
        n_params=raw["num_params"].to_numpy(float),
        n_tokens=raw["token_num"].to_numpy(float),
        metric="val_loss",
        value=raw["openLM_loss"].to_numpy(float),
        unit=NATS,
        arch="dec",
        data="c4",
        epochs=raw["epochs"].to_numpy(float),
        source=ctx.label(REPO, CONTOUR),
    )


def _code(ctx: Context) -> pd.DataFrame:
    path = ctx.path(REPO, CODE)
    raw = read_table(path, required=["epochs", "token_num", "loss", "num_params", "Seed"])
    seeds = set(raw["Seed"])
    if seeds != {CODE_SEED_C4, CODE_SEED_PYTHON}:
        raise DataError(
            f"{path}: column 'Seed' should hold {CODE_SEED_C4} and {CODE_SEED_PYTHON}, found {seeds}"
        )
    pct = raw["epochs"].astype(int).astype(str)  # this file's 'epochs' column is the % of code
    return rows(
        family="gpt2-c4-code",
        model="datablations-4.2b-c4-code" + pct,
        n_params=raw["num_params"].map(parse_size).to_numpy(float),
        n_tokens=raw["token_num"].to_numpy(float),
        metric=np.where(raw["Seed"] == CODE_SEED_PYTHON, "code_val_loss", "val_loss"),
        value=raw["loss"].to_numpy(float),
        unit=NATS,
        arch="dec",
        data="c4+python" + pct + "%",
        source=ctx.label(REPO, CODE),
    )


def build(ctx: Context) -> Built:
    return Built(pd.concat([_main(ctx), _contour(ctx), _code(ctx)], ignore_index=True))


ADAPTER = Adapter("datablations", FAMILIES, build)
