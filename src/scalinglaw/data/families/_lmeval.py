"""Turn an lm-evaluation-harness result table into (metric, value, unit) rows with explicit units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import ACCURACY, NATS

#: Harness metric -> (metric-name suffix, unit, transform). Perplexities become ln(ppl) in nats.
_RULES = {
    "acc": ("acc", ACCURACY, None),
    "acc_norm": ("acc_norm", ACCURACY, None),
    "ppl": ("ppl_loss", NATS, np.log),
    "word_perplexity": ("word_ppl_loss", NATS, np.log),
    "byte_perplexity": ("byte_ppl_loss", NATS, np.log),
    "bits_per_byte": ("bits_per_byte", "bits_per_byte", None),
    "pct_stereotype": ("pct_stereotype", "fraction", None),
    "likelihood_difference": ("likelihood_difference", "log_likelihood_difference", None),
}


def lm_eval_rows(results: pd.DataFrame, *, suffix: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metric names, values and units for a :func:`~scalinglaw.data.readers.read_lm_eval_json` frame.

    ``lambada_openai``'s perplexity becomes ``lambada_ppl_loss`` (ln of the harness's perplexity of the
    final word, nats), the loss the paper used for Pythia. Other metrics are named ``task/metric``;
    ``suffix`` (e.g. ``"@5shot"``) is appended to every name.
    """
    metrics, values, units = [], [], []
    for task, metric, value in zip(results["task"], results["metric"], results["value"], strict=True):
        name, unit, fn = _RULES.get(metric, (metric, "score", None))
        full = "lambada_ppl_loss" if (task == "lambada_openai" and metric == "ppl") else f"{task}/{name}"
        metrics.append(full + suffix)
        values.append(float(fn(value)) if fn is not None else float(value))
        units.append(unit)
    return np.array(metrics, dtype=object), np.array(values, dtype=float), np.array(units, dtype=object)
