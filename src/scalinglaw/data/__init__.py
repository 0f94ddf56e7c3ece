"""The collection: training curves and evaluations of published model families, as one tidy long table.

Public entry points (also importable from :mod:`scalinglaw`):

- :func:`load_dataset`: the long table of every family (built once from the pinned upstream files, then
  cached as Parquet);
- :func:`list_families`: one row per family (models, sizes, tokens, default metric, usability);
- :func:`load_family`: one family's runs in the fitting shape (``model, n_params, n_tokens, loss, ...``);
- the readers :func:`read_table`, :func:`read_wandb_csv`, :func:`read_tensorboard`,
  :func:`read_lm_eval_json` for your own runs.

This subpackage imports nothing from :mod:`scalinglaw` but its exceptions.
"""

from __future__ import annotations

from scalinglaw.data.readers import read_lm_eval_json, read_table, read_tensorboard, read_wandb_csv
from scalinglaw.data.table import (
    COLUMNS,
    SCHEMA,
    BuildReport,
    build_dataset,
    build_report,
    describe_family,
    list_families,
    load_dataset,
    load_family,
    validate,
)

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "BuildReport",
    "build_dataset",
    "build_report",
    "describe_family",
    "list_families",
    "load_dataset",
    "load_family",
    "read_lm_eval_json",
    "read_table",
    "read_tensorboard",
    "read_wandb_csv",
    "validate",
]
