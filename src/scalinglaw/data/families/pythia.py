"""Pythia (Biderman et al. 2023) and BLOOM: lm-evaluation-harness results at checkpoints, from the
EleutherAI/pythia repository.

Source: ``EleutherAI/pythia`` ``evals/pythia-v0/**``, ``evals/pythia-v1/**`` (one JSON per model,
checkpoint and shot count) and ``evals/bloom/*.json`` (final BLOOM models). The paper's own aggregate of
these files (``aggregated_eval/pythia.csv``) is missing from the public ColPret snapshot; this adapter
rebuilds it.

Units: ``lambada_ppl_loss`` = ln(LAMBADA perplexity) in nats (the harness's perplexity of the final
word); accuracies as fractions; see :mod:`scalinglaw.data.families._lmeval` for every other metric.

Decisions / fixes:

- The paper's Pythia "loss" was the LAMBADA perplexity of these files, fitted as log2; here it is named
  for what it is, ``lambada_ppl_loss``, in nats (ln). It is each family's default metric.
- The shot count is taken from the directory/file name: 90 v0 five-shot files evaluated with GPT-NeoX
  record ``num_fewshot: 0`` in their config although their own eval prefix says "5shot".
- Five-shot evaluations are the same models as the zero-shot ones: their metrics carry an ``@5shot``
  suffix in the model's own family instead of forming separate families (the paper's ``*-5shot*`` sets
  had no loss and were never fitted).
- ``n_tokens = step * tokens per step``: 2,097,152 (1024 x 2048) for the standard runs, 262,144 /
  524,288 / 1,048,576 for the 0.25M / 0.5M / 1M-token batch-size variants. Step-0 files (no tokens) are
  dropped and counted; the v0 160M, 410M and 1.4B runs used 4M-token batches (71,500 steps); when a
  checkpoint was evaluated twice, the later file (by name) is kept and the
  superseded rows are counted.
- Exact parameter counts from the Pythia paper (v0 models share the v1 architectures).
- Winobias-only evaluations (``evals/bias-evals``, ``evals/pythia-v0/winobias``) are not included.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import Adapter, Built, Context, Drop, Family, rows
from scalinglaw.data.families._lmeval import lm_eval_rows
from scalinglaw.data.readers import read_lm_eval_json
from scalinglaw.data.sources import registry
from scalinglaw.exceptions import DataError

REPO = "EleutherAI/pythia"
#: Total parameter counts of the Pythia sizes (Biderman et al. 2023, Table 1 / model cards).
PYTHIA_PARAMS = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}
#: Tokens per optimizer step of the standard runs: 1024 sequences x 2048 tokens.
TOKENS_PER_STEP = 1024 * 2048
#: Pythia v0 160M, 410M and 1.4B were trained 71,500 steps of 2048 x 2048 tokens (Biderman et al. 2023, App.).
V0_4M_BATCH_SIZES = frozenset({"160m", "410m", "1.4b"})
V0_4M_TOKENS_PER_STEP = 2048 * 2048
#: Tokens per step of the batch-size variants, by directory suffix.
BATCH_VARIANTS = {"0.25MtokBS": 128 * 2048, "0.5MtokBS": 256 * 2048, "1MtokBS": 512 * 2048}
#: BLOOM parameter counts (model cards) and training tokens (the paper's code uses 341B).
BLOOM_PARAMS = {
    "560m": 559_214_592,
    "1b1": 1_065_314_304,
    "1b7": 1_722_408_960,
    "3b": 3_002_557_440,
    "7b1": 7_069_016_064,
}
BLOOM_TOKENS = 341e9

_LAMBADA = "lambada_ppl_loss"
FAMILIES = (
    Family("pythia", "pythia", _LAMBADA, "dec", "pile", note="Pythia v1, 70M-12B, Pile"),
    Family(
        "pythia-deduped",
        "pythia-deduped",
        _LAMBADA,
        "dec",
        "pile-deduped",
        note="Pythia v1 on the deduplicated Pile",
    ),
    Family("pythia-v0", "pythia-v0", _LAMBADA, "dec", "pile", note="Pythia v0 (before the v1 fixes)"),
    Family(
        "pythia-deduped-v0",
        "pythia-deduped-v0",
        _LAMBADA,
        "dec",
        "pile-deduped",
        note="Pythia v0, deduplicated Pile",
    ),
    Family(
        "pythia-intervention-deduped",
        "pythia-intervention-deduped",
        _LAMBADA,
        "dec",
        "pile-deduped",
        note="gender-pronoun intervention in the last 7% of training (70M, 410M, 1.4B, 6.9B)",
    ),
    Family(
        "pythia-intervention-long-deduped",
        None,
        _LAMBADA,
        "dec",
        "pile-deduped",
        scaled=False,
        note="1.4B with a longer (21%) intervention",
    ),
    Family(
        "pythia-baseline-deduped",
        "pythia-baseline-deduped",
        _LAMBADA,
        "dec",
        "pile-deduped",
        note="baselines of the intervention runs",
    ),
    Family("pythia-bf16", None, _LAMBADA, "dec", "pile", scaled=False, note="Pythia-1B trained in bf16"),
    Family(
        "pythia-batch-size",
        None,
        _LAMBADA + "@5shot",  # these runs were only evaluated five-shot
        "dec",
        "pile",
        scaled=False,
        note="70M/160M/410M/1B/1.4B with 0.25M-1M token batches (one variant per size)",
    ),
    Family(
        "bloom", None, _LAMBADA, "dec", "roots", kind="final points", note="BLOOM 560M-7.1B, final models"
    ),
)

_STEP = re.compile(r"step(\d+)")


def _classify(path: str) -> tuple[str, str, str, float] | None:
    """(family, model, size, tokens per step) of a Pythia eval file, or None if not part of the collection."""
    parts = path.split("/")
    if len(parts) < 4 or parts[1] not in ("pythia-v0", "pythia-v1") or "winobias" in parts:
        return None
    v0 = parts[1] == "pythia-v0"
    m = re.fullmatch(r"pythia-([\d.]+[mb])(?:-(.+))?", parts[2])
    if m is None:
        raise DataError(f"{REPO}:{path}: unrecognised Pythia directory {parts[2]!r}")
    size, variant = m.group(1), m.group(2) or ""
    sub = parts[3] if len(parts) == 5 else ""
    fname = parts[-1]
    per_step = float(TOKENS_PER_STEP)
    if variant in BATCH_VARIANTS:
        return "pythia-batch-size", f"pythia-{size}-{variant}", size, float(BATCH_VARIANTS[variant])
    if variant == "bf16":
        return "pythia-bf16", f"pythia-{size}-bf16", size, per_step
    if variant not in ("", "deduped"):
        raise DataError(f"{REPO}:{path}: unrecognised Pythia variant {variant!r}")
    dedup = "-deduped" if variant == "deduped" else ""
    if sub in ("intervention", "baseline"):
        long = "-long" if fname.startswith("intervention-") and "-long_" in fname else ""
        family = f"pythia-{sub}{long}-deduped"
        return family, f"pythia-{sub}{long}-{size}-deduped", size, per_step
    v = "-v0" if v0 else ""
    if v0 and size in V0_4M_BATCH_SIZES:
        per_step = float(V0_4M_TOKENS_PER_STEP)
    return f"pythia{dedup}{v}", f"pythia-{size}{dedup}{v}", size, per_step


def build(ctx: Context) -> Built:
    cols: dict[str, list] = {
        k: []
        for k in ("family", "model", "n_params", "n_tokens", "step", "metric", "value", "unit", "source")
    }
    drops: list[Drop] = []
    seen: dict[tuple[str, int, int], int] = {}  # (model, step, shots) -> index in `files`
    files = []
    for repo, path in sorted(registry()):
        if repo != REPO or not path.startswith("evals/") or not path.endswith(".json"):
            continue
        info = _classify(path)
        if info is None:
            continue
        m = _STEP.search(path.rsplit("/", 1)[-1])
        if m is None:
            raise DataError(f"{REPO}:{path}: no step number in the file name")
        step = int(m.group(1))
        family, model, size, per_step = info
        if step == 0:
            drops.append(Drop(family, ctx.label(REPO, path), 1, "step-0 evaluation file (no tokens seen)"))
            continue
        res = read_lm_eval_json(ctx.path(REPO, path))
        # The directory and file name say the shot count; 90 v0 five-shot files evaluated through GPT-NeoX
        # record num_fewshot=0 in their config although their eval prefix says "-5shot".
        if "five-shot" in path or "5shot" in path.rsplit("/", 1)[-1]:
            shots = 5
        elif "zero-shot" in path or "0shot" in path.rsplit("/", 1)[-1]:
            shots = 0
        else:
            shots = int(res.attrs.get("config", {}).get("num_fewshot", 0) or 0)
        key = (model, step, shots)
        if key in seen:
            old = files[seen[key]]
            drops.append(
                Drop(family, ctx.label(REPO, old[0]), old[-1], "superseded re-evaluation of a checkpoint")
            )
            files[seen[key]] = None
        seen[key] = len(files)
        files.append((path, family, model, size, per_step, step, shots, res, len(res)))
    for entry in files:
        if entry is None:
            continue
        path, family, model, size, per_step, step, shots, res, n = entry
        metric, value, unit = lm_eval_rows(res, suffix="@5shot" if shots == 5 else "")
        cols["family"] += [family] * n
        cols["model"] += [model] * n
        cols["n_params"] += [float(PYTHIA_PARAMS[size])] * n
        cols["n_tokens"] += [step * per_step] * n
        cols["step"] += [step] * n
        cols["metric"] += list(metric)
        cols["value"] += list(value)
        cols["unit"] += list(unit)
        cols["source"] += [ctx.label(REPO, path)] * n
    frame = rows(
        family=np.array(cols["family"], dtype=object),
        model=np.array(cols["model"], dtype=object),
        n_params=np.array(cols["n_params"]),
        n_tokens=np.array(cols["n_tokens"]),
        step=np.array(cols["step"]),
        metric=np.array(cols["metric"], dtype=object),
        value=np.array(cols["value"]),
        unit=np.array(cols["unit"], dtype=object),
        arch="dec",
        data=np.array([_data(f) for f in cols["family"]], dtype=object),
        source=np.array(cols["source"], dtype=object),
    )
    return Built(pd.concat([frame, _bloom(ctx)], ignore_index=True), drops)


def _data(family: str) -> str:
    return "pile-deduped" if "deduped" in family else "pile"


def _bloom(ctx: Context) -> pd.DataFrame:
    frames = []
    for key, n_params in BLOOM_PARAMS.items():
        path = f"evals/bloom/bloom-{key}.json"
        metric, value, unit = lm_eval_rows(read_lm_eval_json(ctx.path(REPO, path)))
        frames.append(
            rows(
                family="bloom",
                model=f"bloom-{key}",
                n_params=float(n_params),
                n_tokens=BLOOM_TOKENS,
                metric=metric,
                value=value,
                unit=unit,
                arch="dec",
                data="roots",
                source=ctx.label(REPO, path),
            )
        )
    return pd.concat(frames, ignore_index=True)


ADAPTER = Adapter("pythia", FAMILIES, build)
