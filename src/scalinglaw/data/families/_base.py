"""Shared pieces of the adapters: family metadata, the build context, documented drops, row helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglaw.data.sources import fetch, source_label

#: Architectures a family may have (decoder-only, encoder-decoder, mixture of experts, state-space model).
ARCHS = ("dec", "enc-dec", "moe", "ssm")

#: Per-token natural-log losses; every loss in the table is in this unit unless named otherwise.
NATS = "nats"
#: Fractions in [0, 1] (accuracies, never percentages, never error rates).
ACCURACY = "accuracy"


@dataclass(frozen=True)
class Family:
    """Metadata of one scaled family in the collection.

    Attributes
    ----------
    name : str
        Lowercase, hyphenated family id (e.g. ``"gpt3"``).
    paper_name : str or None
        The family's ``scaled_set`` in the paper's code (ColPret), for comparing results; ``None`` when
        the paper did not fit it.
    default_metric : str
        The metric scaling-law fits use by default (:func:`scalinglaw.load_family`).
    arch : str
        One of :data:`ARCHS`.
    data : str
        Training corpus.
    kind : str
        ``"trajectories"`` (checkpoints along each run) or ``"final points"`` (one point per run).
    scaled : bool
        Whether the family was designed as a scaled set (sizes varied, everything else fixed). Grids of
        hyper-parameters and single-variant sets are ``False`` even with several sizes.
    note : str
        One line on what the family is.
    """

    name: str
    paper_name: str | None
    default_metric: str
    arch: str
    data: str
    kind: str = "trajectories"
    scaled: bool = True
    note: str = ""


@dataclass(frozen=True)
class Drop:
    """Rows left out on purpose by an adapter, counted in the build report."""

    family: str
    source: str
    rows: int
    reason: str


@dataclass
class Built:
    """What an adapter returns: its rows (long table, see :mod:`scalinglaw.data.table`) and its drops."""

    frame: pd.DataFrame
    drops: list[Drop] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """Where an adapter reads its upstream files from (a mirror root, or download when ``None``)."""

    sources: str | os.PathLike[str] | None = None

    def path(self, repo: str, path: str) -> Path:
        """Local, hash-checked path of a registered upstream file."""
        return fetch(repo, path, sources=self.sources)

    @staticmethod
    def label(repo: str, path: str) -> str:
        """Provenance label ``owner/repo@commit:path`` for the ``source`` column."""
        return source_label(repo, path)


@dataclass(frozen=True)
class Adapter:
    """One upstream source family: the families it yields and the function building their rows."""

    name: str
    families: tuple[Family, ...]
    build: Callable[[Context], Built]


def rows(
    *,
    family: str | pd.Series,
    model: str | pd.Series,
    n_params: float | pd.Series | np.ndarray,
    n_tokens: float | pd.Series | np.ndarray,
    metric: str | pd.Series,
    value: pd.Series | np.ndarray | float,
    unit: str | pd.Series,
    arch: str | pd.Series,
    data: str | pd.Series,
    source: str | pd.Series,
    step: pd.Series | np.ndarray | float | None = None,
    seed: pd.Series | np.ndarray | int | None = None,
    epochs: pd.Series | np.ndarray | float | None = None,
    flops: pd.Series | np.ndarray | float | None = None,
) -> pd.DataFrame:
    """Assemble long-table rows from scalars and aligned arrays (scalars broadcast).

    ``flops`` left ``None``/NaN is filled with ``6 * n_params * n_tokens`` when the table is finalised.
    """
    cols = {
        "family": family,
        "model": model,
        "n_params": n_params,
        "n_tokens": n_tokens,
        "flops": np.nan if flops is None else flops,
        "step": np.nan if step is None else step,
        "seed": np.nan if seed is None else seed,
        "metric": metric,
        "value": value,
        "unit": unit,
        "arch": arch,
        "data": data,
        "epochs": np.nan if epochs is None else epochs,
        "source": source,
    }
    lengths = {len(v) for v in cols.values() if isinstance(v, pd.Series | np.ndarray | list)}
    if len(lengths) > 1:
        raise ValueError(f"misaligned columns: lengths {sorted(lengths)}")  # a bug in an adapter
    n = lengths.pop() if lengths else 1
    out = {}
    for k, v in cols.items():
        if isinstance(v, pd.Series):
            v = v.to_numpy()
        out[k] = v if isinstance(v, np.ndarray | list) else [v] * n
    return pd.DataFrame(out)


def ppl_to_nats(ppl: pd.Series | np.ndarray) -> np.ndarray:
    """Perplexity -> natural-log loss (nats): ``ln(ppl)``."""
    return np.log(np.asarray(ppl, dtype="float64"))


def parse_size(label: str) -> float:
    """Parse a size label such as ``"2.8B"``, ``"125m"``, ``"65B"``, ``"350M"`` into a number."""
    text = str(label).strip().upper().replace(" ", "")
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    if text and text[-1] in scale:
        return float(text[:-1]) * scale[text[-1]]
    return float(text)
