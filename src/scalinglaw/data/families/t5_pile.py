"""T5-Pile (EleutherAI's "improved T5" runs, t5x): 4 encoder-decoder sizes trained 2M steps on the Pile.

Source: ``IBM/ColPret`` ``aggregated_eval/t5_pile.csv`` (the core build), which aggregates the raw
``raw_data/t5_pile/{base,large,xl,xxl}/{train,training_eval,inference_eval}`` files; those raw files are
read only by :func:`raw_eval_loss` (needs the ``tensorboard`` extra) to cross-check the aggregate.

Units and the metric (a decision, see docs/collection.md):

- The aggregate's ``val_perplexity`` (1.03-1.84) is seqio's inference-eval "perplexity" of the
  ``pile_r_denoiser`` validation task (``inference_eval/*-metrics.jsonl``). It is **not a per-token
  perplexity**: the per-target-token validation cross-entropy logged in ``training_eval`` as
  ``cross_ent_loss_per_all_target_tokens`` (0.60-0.90 nats at the end; 10.9 at step 0 ~ ln 32k) is about
  18 times ``ln(val_perplexity)`` at every checkpoint. So the table stores
  ``seqio_val_loss = ln(val_perplexity)``
  with the explicit unit ``seqio_log_ppl`` (a natural log, of an unknown normalisation), not ``nats``.
  It is the family's default metric because it is what the paper fitted (as log2; relative errors are
  the same), and it is proportional to the per-token loss within ~2%.
- Every other numeric column of the aggregate comes from the *train* summaries, whose t5x values are
  broken (negative accuracies, negative per-token losses); they are not used.

Fixed here: the loader's file name (``T5_pile.csv`` vs ``t5_pile.csv``), step-0 rows (0 tokens) dropped and
counted, ``n_tokens = step * 2048 * 512`` (batch 2048 sequences of 512 input tokens, gin config), and the
exact parameter counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import Adapter, Built, Context, Drop, Family, rows
from scalinglaw.data.readers import read_table
from scalinglaw.exceptions import DataError

REPO = "IBM/ColPret"
PATH = "aggregated_eval/t5_pile.csv"
#: Parameter counts of the four T5 sizes (ColPret ``read_data.py``, from the t5x checkpoints).
SIZES = {"base": 247_586_304, "large": 783_173_632, "xl": 2_849_804_288, "xxl": 11_135_426_560}
#: Tokens per step: BATCH_SIZE = 2048 sequences x 512 input tokens (gin config in the train event files).
TOKENS_PER_STEP = 2048 * 512
#: Unit of ``seqio_val_loss``: natural log of seqio's sequence-level perplexity (see module docstring).
SEQIO_LOG_PPL = "seqio_log_ppl"

FAMILIES = (
    Family(
        "t5-pile",
        "t5-pile",
        "seqio_val_loss",
        "enc-dec",
        "pile",
        note="T5 base/large/xl/xxl (248M-11B), 2M steps (~2.1T input tokens)",
    ),
)


def build(ctx: Context) -> Built:
    path = ctx.path(REPO, PATH)
    raw = read_table(path, required=["model_name", "steps", "val_perplexity"])
    unknown = sorted(set(raw["model_name"]) - set(SIZES))
    if unknown:
        raise DataError(f"{path}: column 'model_name' has unknown T5 sizes {unknown}")
    zero = raw["steps"] == 0
    kept = raw[~zero & raw["val_perplexity"].notna()]
    frame = rows(
        family="t5-pile",
        model="t5-pile-" + kept["model_name"],
        n_params=kept["model_name"].map(SIZES).to_numpy(float),
        n_tokens=kept["steps"].to_numpy(float) * TOKENS_PER_STEP,
        step=kept["steps"],
        metric="seqio_val_loss",
        value=np.log(kept["val_perplexity"].to_numpy(float)),
        unit=SEQIO_LOG_PPL,
        arch="enc-dec",
        data="pile",
        source=ctx.label(REPO, PATH),
    )
    drops = [Drop("t5-pile", ctx.label(REPO, PATH), int(zero.sum()), "step 0 (no tokens seen)")]
    return Built(frame, drops)


def raw_eval_loss(*, sources=None) -> pd.DataFrame:
    """Per-token validation cross-entropy of the four T5 runs, from the raw TensorBoard files.

    Reads ``raw_data/t5_pile/<size>/training_eval/pile_r_denoiser/*`` (needs the ``tensorboard`` extra) and
    returns columns ``model``, ``step``, ``n_tokens``, ``val_loss`` (nats per target token,
    ``cross_ent_loss_per_all_target_tokens``). A resumed run logs some steps twice; the last value wins.
    """
    from scalinglaw.data.readers import read_tensorboard
    from scalinglaw.data.sources import registry

    ctx = Context(sources)
    out = []
    for size in SIZES:
        prefix = f"raw_data/t5_pile/{size}/training_eval/pile_r_denoiser/"
        files = sorted(p for (repo, p) in registry() if repo == REPO and p.startswith(prefix))
        frames = [
            read_tensorboard(ctx.path(REPO, f), tags=["cross_ent_loss_per_all_target_tokens"]) for f in files
        ]
        ev = pd.concat(frames, ignore_index=True).drop_duplicates("step", keep="last").sort_values("step")
        out.append(
            pd.DataFrame(
                {
                    "model": f"t5-pile-{size}",
                    "step": ev["step"].to_numpy(),
                    "n_tokens": ev["step"].to_numpy(float) * TOKENS_PER_STEP,
                    "val_loss": ev["value"].to_numpy(float),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


ADAPTER = Adapter("t5-pile", FAMILIES, build)
