"""LLM360 single-model releases: K2-65B, Amber-7B and a 3B Mamba (state-space) model.

Sources (``IBM/ColPret``):

- K2: the 6 raw W&B exports ``raw_data/lm360/K2/*.csv`` (training loss; 5-shot/0-shot evaluations).
- Amber: the 40 remaining raw W&B exports ``raw_data/lm360/Amber/*.csv`` (18 Pile-domain perplexities, an
  "average per doc" perplexity, 21 downstream scores). The aggregate ``aggregated_eval/Amber.csv`` and the
  training-loss export are missing upstream, so Amber has no training loss.
- Mamba: ``aggregated_eval/llm360Mamba3B.csv`` (training loss every 4 steps; the raw exports are missing).

Units: losses in nats (perplexities -> ln); scores in percent -> fractions.

Decisions / fixes (single-model families: not usable for multi-size fits):

- K2: only the main run (``k2 training - lm loss`` and ``k2 eval - <task>@<shots>``) is kept; the
  ``training spikes``, ``eval spike 1/2`` and ``ministage`` side runs are dropped and counted. W&B steps are
  logging counters, not tokens: tokens are taken proportional to the step, with the last logged step at
  the end of training (1.4T tokens). The paper spread tokens over the *row index* instead. Approximate.
- Amber: ``Step`` is the checkpoint index (360 checkpoints over 1.25T tokens); ``n_tokens = (Step + 1) *
  1.25e12 / 360``. Approximate. Default ``val_loss`` = mean of the 18 domain losses (ln of each domain's
  perplexity) where all are present.
- Mamba: ``n_tokens = step * 500e9 / 176,703`` (the paper's constants); the paper loaded this file twice,
  here it is loaded once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import ACCURACY, NATS, Adapter, Built, Context, Drop, Family, rows
from scalinglaw.data.readers import read_table, read_wandb_csv
from scalinglaw.data.sources import registry

REPO = "IBM/ColPret"
#: K2-65B: training tokens (LLM360 K2 release notes).
K2_TOKENS = 1.4e12
K2_PARAMS = 65e9
#: Amber-7B: training tokens and number of released checkpoints (LLM360 Amber release).
AMBER_TOKENS = 1.25e12
AMBER_CHECKPOINTS = 360
AMBER_PARAMS = 6.7e9
#: Mamba-3B: tokens and optimizer steps of the full run (the paper's code, ColPret ``read_data.py``).
MAMBA_TOKENS = 500e9
MAMBA_STEPS = 176_703
MAMBA_PARAMS = 3e9
MAMBA_PATH = "aggregated_eval/llm360Mamba3B.csv"

FAMILIES = (
    Family("k2", None, "train_loss", "dec", "llm360-k2", scaled=False, note="LLM360 K2-65B, 1.4T tokens"),
    Family(
        "amber",
        None,
        "val_loss",
        "dec",
        "llm360-amber",
        scaled=False,
        note="LLM360 Amber-7B, Pile-domain losses",
    ),
    Family(
        "llm360-mamba",
        "llm360Mamba",
        "train_loss",
        "ssm",
        "unknown",
        scaled=False,
        note="3B Mamba, 500B tokens",
    ),
)


def _files(prefix: str) -> list[str]:
    return sorted(p for (r, p) in registry() if r == REPO and p.startswith(prefix) and p.endswith(".csv"))


def _k2(ctx: Context) -> Built:
    frames, drops = [], []
    for rel in _files("raw_data/lm360/K2/"):
        long = read_wandb_csv(ctx.path(REPO, rel))
        label = ctx.label(REPO, rel)
        train = long["metric"] == "k2 training - lm loss"
        evals = long["metric"].str.startswith("k2 eval - ")
        side = ~(train | evals)
        if side.any():
            drops.append(
                Drop("k2", label, int(side.sum()), "side runs (training spikes, eval spike, ministage)")
            )
        for mask, is_train in ((train, True), (evals, False)):
            part = long[mask]
            if part.empty:
                continue
            tokens = part["step"].to_numpy(float) / part["step"].max() * K2_TOKENS
            frames.append(
                rows(
                    family="k2",
                    model="k2-65b",
                    n_params=K2_PARAMS,
                    n_tokens=tokens,
                    step=part["step"] if is_train else None,
                    metric="train_loss" if is_train else part["metric"].str.removeprefix("k2 eval - "),
                    value=part["value"].to_numpy(float) if is_train else part["value"].to_numpy(float) / 100,
                    unit=NATS if is_train else ACCURACY,
                    arch="dec",
                    data="llm360-k2",
                    source=label,
                )
            )
    return Built(pd.concat(frames, ignore_index=True), drops)


def _amber(ctx: Context) -> Built:
    frames = []
    for rel in _files("raw_data/lm360/Amber/"):
        long = read_wandb_csv(ctx.path(REPO, rel))
        ppl = long["metric"].str.startswith("perplexity_eval - ")
        name = long["metric"].str.split(" - ", n=1).str[1]
        metric = np.where(ppl, "val_loss/" + name.str.replace(" ", "_"), name.str.replace(" ", "_"))
        frames.append(
            pd.DataFrame(
                {
                    "step": long["step"].to_numpy(),
                    "metric": metric,
                    "value": np.where(ppl, np.log(long["value"]), long["value"] / 100),
                    "unit": np.where(ppl, NATS, ACCURACY),
                    "source": ctx.label(REPO, rel),
                }
            )
        )
    long = pd.concat(frames, ignore_index=True)
    domains = long[
        long["metric"].str.startswith("val_loss/") & (long["metric"] != "val_loss/average_per_doc")
    ]
    wide = domains.pivot_table(index="step", columns="metric", values="value", aggfunc="first")
    mean = wide.mean(axis=1, skipna=False).dropna()
    avg = pd.DataFrame(
        {
            "step": mean.index.to_numpy(),
            "metric": "val_loss",
            "value": mean.to_numpy(),
            "unit": NATS,
            # derived from all domain exports: the provenance is their folder
            "source": domains["source"].iloc[0].rsplit("/", 1)[0] + "/",
        }
    )
    long = pd.concat([long, avg], ignore_index=True)
    frame = rows(
        family="amber",
        model="amber-7b",
        n_params=AMBER_PARAMS,
        n_tokens=(long["step"].to_numpy(float) + 1) * AMBER_TOKENS / AMBER_CHECKPOINTS,
        step=long["step"],
        metric=long["metric"],
        value=long["value"].to_numpy(float),
        unit=long["unit"],
        arch="dec",
        data="llm360-amber",
        source=long["source"],
    )
    return Built(frame)


def _mamba(ctx: Context) -> Built:
    raw = read_table(ctx.path(REPO, MAMBA_PATH), required=["step", "loss"])
    frame = rows(
        family="llm360-mamba",
        model="llm360-mamba-3b",
        n_params=MAMBA_PARAMS,
        n_tokens=raw["step"].to_numpy(float) * MAMBA_TOKENS / MAMBA_STEPS,
        step=raw["step"],
        metric="train_loss",
        value=raw["loss"].to_numpy(float),
        unit=NATS,
        arch="ssm",
        data="unknown",
        source=ctx.label(REPO, MAMBA_PATH),
    )
    return Built(frame)


def build(ctx: Context) -> Built:
    parts = [_k2(ctx), _amber(ctx), _mamba(ctx)]
    return Built(pd.concat([p.frame for p in parts], ignore_index=True), [d for p in parts for d in p.drops])


ADAPTER = Adapter("llm360", FAMILIES, build)
