"""Over-training (Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
tasks"): 104 OpenLM runs, final points only.

Sources: ``mlfoundations/scaling`` ``exp_data/models/*.json`` (per run: hyper-parameters incl. exact
parameter count, tokens and seed; final losses on 8 validation sets) and ``exp_data/evals/*_heavy.json``
(46 downstream accuracies per run).

Units: losses in nats (OpenLM's per-token cross-entropy); accuracies as fractions.

Decisions / fixes:

- The paper's loss trajectories (``raw_data/overtrain/overtrain.csv``) are gone upstream; only final
  points exist, so these are ``final points`` families: each run is one model with one point per metric.
- Downstream scores come from the primary eval JSONs as accuracies. ColPret's
  ``overtrain_downstreams.csv`` stores *error rates* ``err_*`` that the paper renamed ``acc_*`` without
  converting; that file is not used.
- The default metric ``val_loss`` is the OpenLM validation set (the paper's ``openLM_loss``); the others are
  ``val_loss/c4``, ``val_loss/paloma_<set>``, ``val_loss/de-en``. All runs are kept (the paper kept only the
  largest token multiplier per size); the seed comes from each run's ``--seed`` argument.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import ACCURACY, NATS, Adapter, Built, Context, Family, rows
from scalinglaw.data.sources import registry
from scalinglaw.exceptions import DataError

REPO = "mlfoundations/scaling"
DATASETS = {
    "c4_original": "overtrain-c4",
    "rpj": "overtrain-redpajama",
    "rw_original": "overtrain-refinedweb",
}
DATA = {"c4_original": "c4", "rpj": "redpajama", "rw_original": "refinedweb"}
PAPER = {"c4_original": "overtrain-C4", "rpj": "overtrain-RedPajama", "rw_original": "overtrain-RefinedWeb"}

FAMILIES = tuple(
    Family(
        fam,
        PAPER[key],
        "val_loss",
        "dec",
        DATA[key],
        kind="final points",
        note=f"OpenLM runs 11M-6.9B, token multipliers 0.25-640, on {DATA[key]}",
    )
    for key, fam in DATASETS.items()
)


def _val_metric(val_data: list[str], path: str) -> str:
    name = val_data[0]
    if "/openlm/" in name:
        return "val_loss"
    if "c4_val" in name:
        return "val_loss/c4"
    m = re.search(r"val_tok_mult/(paloma_[^/]+)/", name)
    if m:
        return f"val_loss/{m.group(1)}"
    if "de-en" in name:
        return "val_loss/de-en"
    raise DataError(f"{REPO}:{path}: unrecognised validation set {name!r}")


def _read_json(path):
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def build(ctx: Context) -> Built:
    frames = []
    model_paths = sorted(p for (r, p) in registry() if r == REPO and p.startswith("exp_data/models/"))
    for rel in model_paths:
        doc = _read_json(ctx.path(REPO, rel))
        name = doc["name"]
        key = doc["dataset_name"]
        if key not in DATASETS:
            raise DataError(f"{REPO}:{rel}: unknown dataset {key!r}")
        hp = doc["hyperparameters"]
        n_params, n_tokens = float(hp["params"]), float(hp["tokens"])
        args = doc.get("open_lm_args", [])
        seed = int(args[args.index("--seed") + 1]) if "--seed" in args else np.nan
        metric = [_val_metric(r["val_data"], rel) for r in doc["results"]]
        frames.append(
            rows(
                family=DATASETS[key],
                model=name,
                n_params=n_params,
                n_tokens=n_tokens,
                seed=seed,
                metric=np.array(metric, dtype=object),
                value=np.array([float(r["loss"]) for r in doc["results"]]),
                unit=NATS,
                arch="dec",
                data=DATA[key],
                source=ctx.label(REPO, rel),
            )
        )
        eval_rel = f"exp_data/evals/evaluation_{name}_heavy.json"
        if (REPO, eval_rel) in registry():
            icl = _read_json(ctx.path(REPO, eval_rel))["eval_metrics"]["icl"]
            frames.append(
                rows(
                    family=DATASETS[key],
                    model=name,
                    n_params=n_params,
                    n_tokens=n_tokens,
                    seed=seed,
                    metric=np.array(list(icl), dtype=object),
                    value=np.array([float(v) for v in icl.values()]),
                    unit=ACCURACY,
                    arch="dec",
                    data=DATA[key],
                    source=ctx.label(REPO, eval_rel),
                )
            )
    return Built(pd.concat(frames, ignore_index=True))


ADAPTER = Adapter("overtrain", FAMILIES, build)
