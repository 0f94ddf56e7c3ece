"""scalinglaw: fit, evaluate and reproduce scaling laws of language models.

A tour in four lines (synthetic runs from a known law, fitted, extrapolated)::

    >>> import scalinglaw as sl
    >>> runs = sl.simulate.family(seed=0)          # 6 models x 20 checkpoints, 1% noise
    >>> fit = sl.fit(runs, law="chinchilla")       # L = E + A / N^alpha + B / D^beta
    >>> round(float(fit.predict(n_params=7e10, n_tokens=1.4e12)), 2)
    1.95

The paper's protocol and experiments: ``sl.reproduce("num_models", families=["gpt3"])`` returns the
results table of its Fig. 1b heatmap for GPT-3 (one row per fitted law); ``scalinglaw reproduce --out DIR``
runs them all and writes the figures and a report.

Import everything from this namespace, or from the submodules it lists (``laws``, ``simulate``,
``protocol``, ``experiments``, ``plots``); other module paths may move.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalinglaw import experiments, laws, plots, protocol, simulate
from scalinglaw.data import (
    list_families,
    load_dataset,
    load_family,
    read_lm_eval_json,
    read_table,
    read_tensorboard,
    read_wandb_csv,
)
from scalinglaw.exceptions import ConvergenceWarning, DataError, LawError, ScalingLawError, SourceError
from scalinglaw.experiments import reproduce
from scalinglaw.fitting import Fit, fit, fit_many
from scalinglaw.laws import Law, Param, available_laws

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "Fit",
    "Law",
    "LawError",
    "Param",
    "ScalingLawError",
    "SourceError",
    "__version__",
    "available_laws",
    "experiments",
    "fit",
    "fit_many",
    "laws",
    "list_families",
    "load_dataset",
    "load_family",
    "plots",
    "protocol",
    "read_lm_eval_json",
    "read_table",
    "read_tensorboard",
    "read_wandb_csv",
    "reproduce",
    "simulate",
]
from scalinglaw import guide
from scalinglaw.guide import Estimate, estimate

__all__ += ["Estimate", "estimate", "guide"]
