"""scalinglaw: fit, evaluate and reproduce scaling laws of language models.

Import everything from this namespace; other module paths may move.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalinglaw.exceptions import ConvergenceWarning, DataError, LawError, ScalingLawError, SourceError
from scalinglaw.data import list_families, load_dataset, load_family  # noqa: E402
from scalinglaw.data import read_lm_eval_json, read_table, read_tensorboard, read_wandb_csv  # noqa: E402

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "LawError",
    "ScalingLawError",
    "SourceError",
    "__version__",
    "list_families",
    "load_dataset",
    "load_family",
    "read_lm_eval_json",
    "read_table",
    "read_tensorboard",
    "read_wandb_csv",
]
