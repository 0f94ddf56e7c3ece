"""The paper's evaluation protocol as composable pieces (Choshen et al. 2024, §3.2 and §4-6).

Hold out a family's largest model (the *target*), fit a law on chosen checkpoints of the other models,
and score the prediction by ARE, the mean absolute relative error over the target's last 30 % of
checkpoints::

    >>> import scalinglaw as sl
    >>> from scalinglaw import protocol
    >>> runs = protocol.Runs(sl.simulate.family(seed=0))
    >>> target = runs.target()                          # the largest model
    >>> train = runs.training(runs.candidates(target)[:4], percentage=0.5, cut=0)
    >>> fit = sl.fit(runs.table[train])
    >>> round(100 * protocol.are(fit, runs.window(target)), 1) < 5
    True

The paper's conventions are the defaults and each is an option: the early cut is absolute (tokens
> 10B, §6.1) or relative; the percentage p keeps checkpoints with tokens *strictly* below p x T (so
p = 1 drops the very last checkpoint of the longest run), with T the largest token count among the
selected models *jointly* ("family"; the alternative "model" applies p to each run's own length).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError
from scalinglaw.fitting import Fit

__all__ = [
    "EARLY_CUT",
    "MIN_FAMILY_MODELS",
    "PERCENTAGES",
    "TARGET_FRACTION",
    "Runs",
    "are",
    "best_loss_baseline",
    "most_trained_baseline",
    "signed_re",
]

#: §3.2: the target is scored on the checkpoints of its last 30 % of training tokens.
TARGET_FRACTION = 0.3
#: §6.1: training checkpoints with at most 10B tokens are dropped ("the early cut").
EARLY_CUT = 1e10
#: The percentage axis of the paper's heatmaps: 10 %, 20 %, ..., 100 % of training.
PERCENTAGES = tuple(round(0.1 * i, 1) for i in range(1, 11))
#: §2: a family needs at least three models, two to fit and the target.
MIN_FAMILY_MODELS = 3


def _predicted(fit_or_pred: Fit | np.ndarray | float, window: pd.DataFrame) -> np.ndarray:
    if isinstance(fit_or_pred, Fit):
        return np.asarray(fit_or_pred.predict(window["n_params"].to_numpy(), window["n_tokens"].to_numpy()))
    return np.broadcast_to(np.asarray(fit_or_pred, dtype=float), (len(window),))


def are(fit_or_pred: Fit | np.ndarray | float, window: pd.DataFrame) -> float:
    """Absolute relative error, mean over the window's checkpoints: mean |L - L_hat| / L (§3.2).

    ``fit_or_pred`` is a fit, or predictions (one per row, or one for all rows as the baselines give).
    """
    actual = window["loss"].to_numpy()
    return float(np.mean(np.abs(actual - _predicted(fit_or_pred, window)) / actual))


def signed_re(fit_or_pred: Fit | np.ndarray | float, window: pd.DataFrame) -> float:
    """Signed relative error, mean (L_hat - L) / L: positive when the law over-predicts the loss.

    The paper reports only ARE, which cannot tell an optimistic law from a pessimistic one (its §11).
    """
    actual = window["loss"].to_numpy()
    return float(np.mean((_predicted(fit_or_pred, window) - actual) / actual))


def best_loss_baseline(train: pd.DataFrame) -> float:
    """§5.2 baseline "best performance": predict the lowest training loss seen."""
    return float(train["loss"].min())


def most_trained_baseline(train: pd.DataFrame) -> float:
    """§5.2 baseline "most-trained model": the loss of the training checkpoint with the largest N x D."""
    return float(
        train["loss"].to_numpy()[np.argmax(train["n_params"].to_numpy() * train["n_tokens"].to_numpy())]
    )


@dataclass(frozen=True)
class Runs:
    """One family's runs, indexed for fast subset selection.

    Parameters
    ----------
    table
        One row per checkpoint with ``model``, ``n_params``, ``n_tokens``, ``loss`` (as returned by
        :func:`scalinglaw.load_family`). Rows are sorted by (n_params, model, n_tokens).
    """

    table: pd.DataFrame
    models: tuple[str, ...] = field(init=False)  #: model names, ascending size (ties by name)
    sizes: np.ndarray = field(init=False, repr=False)  #: n_params of each model
    max_tokens: np.ndarray = field(init=False, repr=False)  #: largest n_tokens of each model
    _code: np.ndarray = field(init=False, repr=False)
    _tokens: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        missing = [c for c in ("model", "n_params", "n_tokens", "loss") if c not in self.table.columns]
        if missing:
            raise DataError(
                f"runs is missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
            )
        table = self.table.sort_values(["n_params", "model", "n_tokens"], kind="stable").reset_index(
            drop=True
        )
        sizes_by_model = table.groupby("model", sort=False)["n_params"].agg(["min", "max"])
        mixed = sizes_by_model.index[sizes_by_model["min"] != sizes_by_model["max"]]
        if len(mixed):
            raise DataError(f"runs: model {mixed[0]!r} has more than one n_params; one model is one size")
        code, names = pd.factorize(table["model"], sort=False)
        tokens = table["n_tokens"].to_numpy(dtype=float)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "models", tuple(map(str, names)))
        object.__setattr__(self, "_code", code)
        object.__setattr__(self, "_tokens", tokens)
        object.__setattr__(
            self, "sizes", table.groupby(code, sort=True)["n_params"].first().to_numpy(dtype=float)
        )
        object.__setattr__(
            self,
            "max_tokens",
            np.maximum.reduceat(tokens, np.flatnonzero(np.r_[True, code[1:] != code[:-1]])),
        )

    # -- selecting models ------------------------------------------------------------------------
    def index(self, model: str) -> int:
        """Position of ``model`` in :attr:`models`."""
        try:
            return self.models.index(model)
        except ValueError:
            raise DataError(f"no model {model!r} in these runs; models: {', '.join(self.models)}") from None

    def target(self, which: Literal["largest", "smallest"] | str = "largest") -> str:
        """The held-out model: the largest (the paper), the smallest (scale-down, App. C) or one by name."""
        if which == "largest":
            return self.models[-1]
        if which == "smallest":
            return self.models[0]
        return self.models[self.index(which)]

    def candidates(self, target: str) -> list[str]:
        """Models a law may be fitted on, in the order the paper takes them.

        Scaling up (target largest): smallest first, so ``[:k]`` are the k smallest models. Scaling down
        (target smallest): largest first. Otherwise by distance in size from the target, farthest first.
        """
        t = self.index(target)
        others = [i for i in range(len(self.models)) if i != t]
        if t == len(self.models) - 1:
            order = others
        elif t == 0:
            order = others[::-1]
        else:
            gap = np.abs(np.log(self.sizes[others]) - np.log(self.sizes[t]))
            order = [others[i] for i in np.argsort(-gap, kind="stable")]
        return [self.models[i] for i in order]

    def windows(self, candidates: Sequence[str], k: int) -> list[list[str]]:
        """All runs of ``k`` consecutive sizes among ``candidates`` (Fig. 1a and 1c), smallest first."""
        ordered = sorted(candidates, key=self.index)
        return [ordered[i : i + k] for i in range(len(ordered) - k + 1)]

    # -- selecting checkpoints -------------------------------------------------------------------
    def window(self, target: str, fraction: float = TARGET_FRACTION) -> pd.DataFrame:
        """The target's checkpoints in its last ``fraction`` of training tokens (tokens >= (1 - f) T)."""
        t = self.index(target)
        rows = (self._code == t) & (self._tokens >= (1.0 - fraction) * self.max_tokens[t])
        return self.table[rows]

    def training(
        self,
        models: Sequence[str],
        *,
        percentage: float = 1.0,
        cut: float = EARLY_CUT,
        relative_cut: bool = False,
        percentage_of: Literal["family", "model"] = "family",
        inclusive: bool = False,
        start: float = 0.0,
    ) -> np.ndarray:
        """Boolean mask of the training checkpoints: ``models``, cut, up to ``percentage`` of training.

        Parameters
        ----------
        models
            Models to fit on.
        percentage
            Keep checkpoints with tokens < percentage x T (``<=`` with ``inclusive``); T is the largest
            token count among ``models`` jointly (``percentage_of="family"``, the paper) or each model's
            own (``"model"``).
        cut
            Drop checkpoints with tokens <= ``cut`` (absolute; the paper's 10B), or, with
            ``relative_cut``, with tokens <= cut x the model's own final token count.
        start
            Also drop the first ``start`` fraction of what the percentage keeps: tokens < start x p x T
            (Fig. 4's "final fraction of checkpoints" sweep).
        """
        if not 0 < percentage <= 1:
            raise DataError(f"percentage == {percentage}, must be in (0, 1]")
        idx = np.array([self.index(m) for m in models], dtype=np.int64)
        chosen = np.isin(self._code, idx)
        per_model = self.max_tokens[self._code]
        T = per_model if percentage_of == "model" else (self.max_tokens[idx].max() if idx.size else 0.0)
        limit = percentage * T
        keep = chosen & ((self._tokens <= limit) if inclusive else (self._tokens < limit))
        keep &= self._tokens > (cut * per_model if relative_cut else cut)
        if start > 0:
            keep &= self._tokens >= start * limit
        return keep

    def flops(self, mask: np.ndarray) -> float:
        """Compute a law costs: for each model used, 6 N D to train it to its last checkpoint in ``mask``.

        (The paper's code summed each row's cumulative 6ND over checkpoints, which counts compute many
        times over; this is the training cost of the runs the law needs.)
        """
        if not mask.any():
            return 0.0
        code = self._code[mask]
        last = pd.Series(self._tokens[mask]).groupby(code).max()
        return float(6.0 * np.sum(self.sizes[last.index.to_numpy()] * last.to_numpy()))

    def model_codes(self) -> np.ndarray:
        """Model position (in :attr:`models`) of each row of :attr:`table`."""
        return self._code


def summarize_models(runs: Any) -> pd.DataFrame:
    """One row per model: n_params, checkpoints and token range, ascending size."""
    r = runs if isinstance(runs, Runs) else Runs(runs)
    g = r.table.groupby(r.model_codes())
    return pd.DataFrame(
        {
            "model": list(r.models),
            "n_params": r.sizes,
            "checkpoints": g.size().to_numpy(),
            "min_tokens": g["n_tokens"].min().to_numpy(),
            "max_tokens": r.max_tokens,
        }
    )
