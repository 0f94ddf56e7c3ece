"""Synthetic model families from a known law: for tests, docs and checking your own pipeline.

>>> import scalinglaw as sl
>>> runs = sl.simulate.family(seed=0)
>>> runs.groupby("model").size().tolist()
[20, 20, 20, 20, 20, 20]
>>> sorted(runs.columns)
['family', 'loss', 'model', 'n_params', 'n_tokens', 'seed', 'step']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scalinglaw.laws import Law, get_law

__all__ = ["BESIROGLU_2024", "family"]

#: Besiroglu et al. (2024)'s refit of Chinchilla (Hoffmann et al. 2022, Approach 3): a realistic truth.
BESIROGLU_2024 = {"E": 1.8172, "A": 482.01, "alpha": 0.3478, "B": 2085.43, "beta": 0.3658}


def family(
    law: str | Law = "chinchilla",
    params: Mapping[str, float] | None = None,
    *,
    sizes: Sequence[float] = (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9),
    tokens_per_param: float = 20.0,
    checkpoints: int = 20,
    noise: float = 0.01,
    run_noise: float = 0.0,
    seed: int | None = 0,
    name: str = "simulated",
) -> pd.DataFrame:
    """A family of training runs whose losses follow ``law`` with ``params``, plus noise.

    Parameters
    ----------
    law, params
        The truth; default Chinchilla with :data:`BESIROGLU_2024`.
    sizes
        Parameter counts of the models, one run each.
    tokens_per_param
        Each run trains on ``tokens_per_param * n_params`` tokens (20: Chinchilla-optimal).
    checkpoints
        Evenly spaced checkpoints per run (the last at the end of training).
    noise
        Multiplicative noise: loss = truth * (1 + noise * z), z ~ N(0, 1) independent per checkpoint.
    run_noise
        Multiplicative offset shared by all checkpoints of a run (seed-to-seed variation).
    seed
        Seed of the noise (``None``: fresh randomness).

    Returns
    -------
    DataFrame
        One row per checkpoint: family, model, n_params, n_tokens, step, seed, loss (nats).
    """
    law = get_law(law)
    truth = dict(BESIROGLU_2024 if params is None and law.name == "chinchilla" else law.starts)
    truth.update(params or {})
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        total = tokens_per_param * n
        tokens = total * np.arange(1, checkpoints + 1) / checkpoints
        clean = law.predict(truth, n_params=n, n_tokens=tokens)
        offset = 1.0 + run_noise * rng.standard_normal()
        loss = clean * offset * (1.0 + noise * rng.standard_normal(checkpoints))
        rows.append(
            pd.DataFrame(
                {
                    "family": name,
                    "model": f"{name}-{n:.3g}",
                    "n_params": float(n),
                    "n_tokens": tokens,
                    "step": np.arange(1, checkpoints + 1),
                    "seed": 0 if seed is None else seed,
                    "loss": loss,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
