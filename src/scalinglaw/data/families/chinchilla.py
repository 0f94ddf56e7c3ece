"""Chinchilla / Gopher IsoFLOP runs (Hoffmann et al. 2022), digitised by Besiroglu et al. 2024.

Source: ``epoch-research/analyzing-chinchilla`` ``data/svg_extracted_data.csv`` (245 points extracted
from the SVG of Hoffmann et al.'s Figure 3; the same bytes as ColPret's ``raw_data/chinchila_extracted.csv``).

Units: final loss in nats, as plotted (single-epoch training, so train and held-out loss coincide).

Fixed here / decisions:

- The points are **independent final runs**, not checkpoints of a trajectory. Digitised sizes are noisy;
  as in the paper, sizes are rounded to 1e7 parameters, which recovers 43 model configurations, and each
  configuration is one ``model`` whose "checkpoints" are separate runs at different FLOP budgets.
- ``n_tokens = FLOP / (6 * n_params)`` with the rounded size; ``flops`` keeps the plotted training FLOP.
"""

from __future__ import annotations

import numpy as np

from scalinglaw.data.families._base import NATS, Adapter, Built, Context, Family, rows
from scalinglaw.data.readers import read_table

REPO = "epoch-research/analyzing-chinchilla"
PATH = "data/svg_extracted_data.csv"
#: Rounding grid of the digitised model sizes (paper code, ColPret ``read_data.py``).
SIZE_ROUNDING = 1e7

FAMILIES = (
    Family(
        "chinchilla",
        "chinchilla",
        "train_loss",
        "dec",
        "massivetext",
        kind="final points",
        note="245 IsoFLOP runs, 43 sizes 60M-16B (digitised)",
    ),
)


def build(ctx: Context) -> Built:
    path = ctx.path(REPO, PATH)
    raw = read_table(path, required=["Model Size", "Training FLOP", "loss"])
    size = np.round(raw["Model Size"].to_numpy(float) / SIZE_ROUNDING) * SIZE_ROUNDING
    flops = raw["Training FLOP"].to_numpy(float)
    frame = rows(
        family="chinchilla",
        model=np.array([f"chinchilla-{int(s / 1e6)}m" for s in size], dtype=object),
        n_params=size,
        n_tokens=flops / (6.0 * size),
        flops=flops,
        metric="train_loss",
        value=raw["loss"].to_numpy(float),
        unit=NATS,
        arch="dec",
        data="massivetext",
        source=ctx.label(REPO, PATH),
    )
    return Built(frame)


ADAPTER = Adapter("chinchilla", FAMILIES, build)
