"""Small single-file families: RedPajama-INCITE, BiMix, ModuleFormer, gzip, Revisiting, Step Law.

Each adapter below has its own docstring saying source, units and fixes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import (
    ACCURACY,
    NATS,
    Adapter,
    Built,
    Context,
    Drop,
    Family,
    parse_size,
    rows,
)
from scalinglaw.data.readers import read_table
from scalinglaw.exceptions import DataError

COLPRET = "IBM/ColPret"

# ----------------------------------------------------------------------------------------------------------
REDPAJAMA_FILES = {"2.4b": "raw_data/redPajama/2.4B.csv", "6.7b": "raw_data/redPajama/6.7B.csv"}
REDPAJAMA = (
    Family(
        "redpajama-incite",
        "redPajama",
        "train_loss",
        "dec",
        "redpajama",
        note="RedPajama-INCITE 2.4B/6.7B (digitised)",
    ),
)


def build_redpajama(ctx: Context) -> Built:
    """RedPajama-INCITE (Together 2023 blog): training-loss curves digitised from the blog's figure.

    Source: ``IBM/ColPret`` ``raw_data/redPajama/{2.4B,6.7B}.csv``, header-less (tokens in billions, train
    loss). Units: nats. Fixed: ``n_tokens = x * 1e9``. Two sizes only: not usable for multi-size fits.
    """
    frames = []
    for size, rel in REDPAJAMA_FILES.items():
        raw = read_table(ctx.path(COLPRET, rel), header=False, names=["tokens_b", "loss"])
        frames.append(
            rows(
                family="redpajama-incite",
                model=f"redpajama-incite-{size}",
                n_params=parse_size(size),
                n_tokens=raw["tokens_b"].to_numpy(float) * 1e9,
                metric="train_loss",
                value=raw["loss"].to_numpy(float),
                unit=NATS,
                arch="dec",
                data="redpajama",
                source=ctx.label(COLPRET, rel),
            )
        )
    return Built(pd.concat(frames, ignore_index=True))


# ----------------------------------------------------------------------------------------------------------
#: BiMix runs: 280M-parameter models, 512 sequences x 1024 tokens per step (the paper's code).
BIMIX_PARAMS = 280e6
BIMIX_TOKENS_PER_STEP = 512 * 1024
BIMIX = (
    Family(
        "bimix-pile",
        "(one set per mixture)",
        "val_loss",
        "dec",
        "pile",
        scaled=False,
        note="280M, 6 data mixtures of the Pile",
    ),
    Family(
        "bimix-slimpajama",
        "(one set per mixture)",
        "val_loss",
        "dec",
        "slimpajama",
        scaled=False,
        note="280M, 6 data mixtures of SlimPajama",
    ),
)


def build_bimix(ctx: Context) -> Built:
    """BiMix (Ge et al. 2024): per-domain validation losses of 280M models under 6 data mixtures.

    Source: ``IBM/ColPret`` ``raw_data/bimix-law/{Pile,SlimPajama}/ppls.pkl``: pickled dicts of DataFrames
    (``global_step`` + one column per domain + ``avg``). Unpickling runs code, so only these pinned,
    sha256-checked files are ever unpickled.

    Units: despite the file name, the values (1.4-3.8) are **log-perplexities** (cross-entropy), not
    perplexities; read as nats. The paper took log2 of them (a log of a log). ``avg`` is the unweighted mean
    of the domain columns (checked) and becomes ``val_loss``; the paper averaged it in as one more domain.
    ``n_tokens = global_step * 512 * 1024``. One size: not usable for size scaling.
    """
    frames = []
    for corpus, fam in (("Pile", "bimix-pile"), ("SlimPajama", "bimix-slimpajama")):
        rel = f"raw_data/bimix-law/{corpus}/ppls.pkl"
        path = ctx.path(COLPRET, rel)  # hash-checked before unpickling
        mixes = pd.read_pickle(path)
        for mix, table in mixes.items():
            domains = [c for c in table.columns if c not in ("global_step", "avg")]
            if not np.allclose(table[domains].mean(axis=1), table["avg"], rtol=1e-9):
                raise DataError(
                    f"{path}: mixture {mix!r}: column 'avg' is not the mean of the domain columns"
                )
            long = table.rename(columns={"avg": "val_loss", **{d: f"val_loss/{d}" for d in domains}}).melt(
                id_vars="global_step", var_name="metric"
            )
            frames.append(
                rows(
                    family=fam,
                    model=f"{fam}-{mix.lower()}",
                    n_params=BIMIX_PARAMS,
                    n_tokens=long["global_step"].to_numpy(float) * BIMIX_TOKENS_PER_STEP,
                    step=long["global_step"],
                    metric=long["metric"],
                    value=long["value"].to_numpy(float),
                    unit=NATS,
                    arch="dec",
                    data=corpus.lower() + f" ({mix} mixture)",
                    source=ctx.label(COLPRET, rel),
                )
            )
    return Built(pd.concat(frames, ignore_index=True))


# ----------------------------------------------------------------------------------------------------------
MODULEFORMER_PATH = "raw_data/IBM_MoE.csv"
MODULEFORMER = (
    Family(
        "moduleformer",
        None,
        "wikitext/word_ppl_loss",
        "moe",
        "pile",
        scaled=False,
        note="6 ModuleFormer MoE runs (4B-16.7B total params), checkpoints 64B-350B tokens",
    ),
)


def build_moduleformer(ctx: Context) -> Built:
    """ModuleFormer (Shen et al. 2023): IBM's MoE checkpoints evaluated zero-shot.

    Source: ``IBM/ColPret`` ``raw_data/IBM_MoE.csv`` (never loaded by the paper's code). Units: wikitext
    word perplexity -> ``wikitext/word_ppl_loss`` = ln(ppl) in nats per word; ``wikitext/bits_per_byte``
    kept in bits per byte; LAMBADA perplexity -> ``lambada_ppl_loss`` (nats); accuracies in percent ->
    fractions. ``n_params`` is the total parameter count and FLOPs use the *effective* (active) count,
    6 x N_active x D, when the source gives it. Runs differ in architecture: not a scaled family.
    """
    rel = MODULEFORMER_PATH
    raw = read_table(ctx.path(COLPRET, rel), required=["Model", "Params", "Effective Params", "tokens_seen"])
    ident = ["Model", "data", "Params", "Effective Params", "tokens_seen", "Tokenizer"]
    raw = raw[raw["Model"].notna()]
    # The last row of each run names its data set where the token count belongs: the finished model,
    # at an unstated token count. Those rows are dropped (counted).
    unstated = ~raw["tokens_seen"].astype(str).str.fullmatch(r"[\d.]+[BM]")
    drops = [
        Drop(
            "moduleformer",
            ctx.label(COLPRET, rel),
            int(unstated.sum()),
            "final-model rows without a token count",
        )
    ]
    raw = raw[~unstated]
    long = raw.melt(id_vars=ident, var_name="column").dropna(subset=["value"])
    col = long["column"]
    task = col.str.split(" ").str[0]
    kind = col.str.split(" ").str[1]
    metric = np.select(
        [col == "wikitext ppl", col == "wikitext bpb", col == "lambada_openai ppl"],
        ["wikitext/word_ppl_loss", "wikitext/bits_per_byte", "lambada_ppl_loss"],
        default=task + "/" + kind,
    )
    is_ppl = kind == "ppl"
    value = np.where(is_ppl, np.log(long["value"].astype(float)), long["value"].astype(float))
    value = np.where(kind.isin(["acc", "acc_norm"]), value / 100, value)
    unit = np.select([is_ppl, kind == "bpb"], [NATS, "bits_per_byte"], default=ACCURACY)
    n_params = long["Params"].map(parse_size).to_numpy(float)
    n_tokens = long["tokens_seen"].map(parse_size).to_numpy(float)
    active = (
        long["Effective Params"]
        .map(lambda s: parse_size(s) if isinstance(s, str) else np.nan)
        .to_numpy(float)
    )
    frame = rows(
        family="moduleformer",
        # ST-k2 was trained twice (Pile with the GPT-2 tokenizer, "IBM Pile" with CodeGen's)
        model="moduleformer-"
        + long["Model"].str.lower()
        + np.where(long["data"] == "IBM Pile", "-ibm-pile", ""),
        n_params=n_params,
        n_tokens=n_tokens,
        flops=6.0 * active * n_tokens,
        metric=metric,
        value=value,
        unit=unit,
        arch="moe",
        data=long["data"].str.lower(),
        source=ctx.label(COLPRET, rel),
    )
    return Built(frame, drops)


# ----------------------------------------------------------------------------------------------------------
GZIP_PATH = "raw_data/gzip/results_new.jsonl"
GZIP_LEVELS = ("0.12", "0.23", "0.33", "0.45", "0.61")
GZIP = tuple(
    Family(
        f"gzip-{lvl}",
        None,
        "val_loss",
        "dec",
        f"gzipscale-{lvl}",
        kind="final points",
        note=f"Pandey 2024: 6 sizes 4M-1.4B x 5 token budgets on PCFG data of gzip ratio {lvl}",
    )
    for lvl in GZIP_LEVELS
)


def build_gzip(ctx: Context) -> Built:
    """gzip-predicts-scaling (Pandey 2024): small LMs on synthetic data of graded gzip compressibility.

    Source: ``IBM/ColPret`` ``raw_data/gzip/results_new.jsonl`` (the only one of its 4 result files still
    upstream; never loaded by the paper's code). Each line is one run: model size, token count, the
    train-loss and validation-loss lists. Units: nats. Only the final validation and training losses are
    kept (the lists carry no token positions); one family per dataset (gzip ratio), one model per run.
    """
    rel = GZIP_PATH
    raw = read_table(
        ctx.path(COLPRET, rel),
        required=["dataset_name", "token_ct", "model_size", "valid_loss", "train_loss"],
    )
    level = raw["dataset_name"].str.extract(r"gzipscale-([\d.]+)-")[0]
    if level.isna().any() or not set(level) <= set(GZIP_LEVELS):
        raise DataError(
            f"{ctx.path(COLPRET, rel)}: unexpected dataset names {sorted(set(raw['dataset_name']))}"
        )
    fam = "gzip-" + level
    model = (
        fam
        + "-"
        + (raw["model_size"] / 1e6).round(1).astype(str)
        + "m-"
        + raw["token_ct"].astype(str)
        + "tok"
    )
    frames = []
    for metric, col in (("val_loss", "valid_loss"), ("train_loss", "train_loss")):
        frames.append(
            rows(
                family=fam,
                model=model,
                n_params=raw["model_size"].to_numpy(float),
                n_tokens=raw["token_ct"].to_numpy(float),
                metric=metric,
                value=np.array([v[-1] for v in raw[col]], dtype=float),
                unit=NATS,
                arch="dec",
                data="gzipscale-" + level,
                source=ctx.label(COLPRET, rel),
            )
        )
    return Built(pd.concat(frames, ignore_index=True))


# ----------------------------------------------------------------------------------------------------------
REVISITING_PATH = "aggregated_eval/revisiting_lang.csv"
#: Unit of the Revisiting losses: rescaled by the authors (capped at 0.999), not nats.
RESCALED = "rescaled_loss"
REVISITING = (
    Family(
        "revisiting-lm",
        "lambda",
        "val_loss_rescaled",
        "dec",
        "revisiting-lm",
        note="Alabdulmohsin et al. 2022 decoder LMs, 17M-1.07B (rescaled losses)",
    ),
)


def build_revisiting(ctx: Context) -> Built:
    """Revisiting Neural Scaling Laws (Alabdulmohsin et al. 2022): language-model curves.

    Source: ``IBM/ColPret`` ``aggregated_eval/revisiting_lang.csv`` (Domain, Task, Model, Seen Examples, Loss,
    Training). Units: the LM ``val_loss`` values are **rescaled** by the authors (all <= 0.999, starting at a
    0.999 cap), so they get the explicit unit ``rescaled_loss``, metric ``val_loss_rescaled``; BIG-bench
    few-shot scores of the 262M model are kept as ``bigbench/<task>@<k>shot`` in the same unit.

    Fixed here: every row appears 4 times (exact duplicates dropped, counted); the paper's assignment-order
    bug left the family's ``scaled_set`` empty, so it was never fitted: it is ``revisiting-lm`` here. NMT
    rows ("6 Enc, 6 Dec", ...) carry no parameter count and are dropped (counted). ``Seen Examples`` is used
    as tokens, as in the paper. The ``Training`` flag (the authors' fit/extrapolate split) is not kept.
    """
    rel = REVISITING_PATH
    path = ctx.path(COLPRET, rel)
    raw = read_table(path, required=["Domain", "Task", "Model", "Seen Examples", "Loss"])
    label = ctx.label(COLPRET, rel)
    dedup = raw.drop_duplicates(["Domain", "Task", "Model", "Seen Examples", "Loss"])
    conflicts = dedup.duplicated(["Domain", "Task", "Model", "Seen Examples"], keep=False)
    if conflicts.any():
        raise DataError(
            f"{path}: rows {list(np.flatnonzero(conflicts))[:8]} give different losses for one point"
        )
    drops = [
        Drop("revisiting-lm", label, len(raw) - len(dedup), "exact duplicate rows (each point appears 4x)")
    ]
    nmt = dedup["Domain"] == "NMT"
    drops.append(Drop("revisiting-lm", label, int(nmt.sum()), "NMT rows: no parameter count in the source"))
    lm = dedup[dedup["Domain"] == "LM"]
    bb = dedup[dedup["Domain"] == "BB"]
    bb_task = bb["Task"].str.extract(r"\('(\w+)',\s*'(\d)-shot'\)")
    if bb_task.isna().any().any():
        raise DataError(f"{path}: unrecognised BIG-bench task labels {sorted(set(bb['Task']))[:5]}")
    bb_size = bb["Model"].map(parse_size)
    frames = [
        rows(
            family="revisiting-lm",
            model="revisiting-lm-" + lm["Model"],
            n_params=lm["Model"].astype(float).to_numpy(),
            n_tokens=lm["Seen Examples"].to_numpy(float),
            metric="val_loss_rescaled",
            value=lm["Loss"].to_numpy(float),
            unit=RESCALED,
            arch="dec",
            data="revisiting-lm",
            source=label,
        ),
        rows(
            family="revisiting-lm",
            model="revisiting-lm-" + bb_size.map(lambda n: f"{n:.2e}"),
            n_params=bb_size.to_numpy(float),
            n_tokens=bb["Seen Examples"].to_numpy(float),
            metric="bigbench/" + bb_task[0] + "@" + bb_task[1] + "shot",
            value=bb["Loss"].to_numpy(float),
            unit=RESCALED,
            arch="dec",
            data="revisiting-lm",
            source=label,
        ),
    ]
    lm_models = set(frames[0]["model"])
    stray = sorted(set(frames[1]["model"]) - lm_models)
    if stray:
        raise DataError(f"{path}: BIG-bench rows for models without LM rows: {stray}")
    return Built(pd.concat(frames, ignore_index=True), drops)


# ----------------------------------------------------------------------------------------------------------
STEPLAW_REPO = "step-law/steplaw"
STEPLAW = (
    Family(
        "steplaw-dense",
        None,
        "smooth_train_loss",
        "dec",
        "steplaw",
        kind="final points",
        scaled=False,
        note="Step Law (Li et al. 2025) dense LR x batch-size grid; pick the best (lr, bs) per (N, D)",
    ),
    Family(
        "steplaw-moe",
        None,
        "smooth_train_loss",
        "moe",
        "steplaw",
        kind="final points",
        scaled=False,
        note="Step Law MoE LR x batch-size grid",
    ),
)


def build_steplaw(ctx: Context) -> Built:
    """Step Law (Li et al. 2025, "Predictable Scale"): final losses of a learning-rate x batch-size grid.

    Source: ``step-law/steplaw`` ``data/{dense,moe}_lr_bs_loss.csv`` (one row per run: shape, lr, bs, final
    ``loss`` and ``smooth loss``, ``N``, ``D``; MoE rows also ``Na``, the active parameters). Units: nats
    (training loss). Each run is a model with one final point; ``smooth_train_loss`` is the default
    (the authors' smoothed final loss), ``train_loss`` the raw last value. MoE FLOPs are 6 x Na x D.
    A hyper-parameter grid, not a scaled family: most runs are at a sub-optimal (lr, bs).
    """
    frames = []
    for kind, fam in (("dense", "steplaw-dense"), ("moe", "steplaw-moe")):
        rel = f"data/{kind}_lr_bs_loss.csv"
        raw = read_table(ctx.path(STEPLAW_REPO, rel), required=["exp_name", "N", "D", "loss", "smooth loss"])
        active = raw["Na"].to_numpy(float) if "Na" in raw.columns else raw["N"].to_numpy(float)
        for metric, col in (("smooth_train_loss", "smooth loss"), ("train_loss", "loss")):
            frames.append(
                rows(
                    family=fam,
                    model=fam + "-" + raw["exp_name"],
                    n_params=raw["N"].to_numpy(float),
                    n_tokens=raw["D"].to_numpy(float),
                    flops=6.0 * active * raw["D"].to_numpy(float),
                    metric=metric,
                    value=raw[col].to_numpy(float),
                    unit=NATS,
                    arch="moe" if kind == "moe" else "dec",
                    data="steplaw",
                    source=ctx.label(STEPLAW_REPO, rel),
                )
            )
    return Built(pd.concat(frames, ignore_index=True))


ADAPTERS = (
    Adapter("redpajama", REDPAJAMA, build_redpajama),
    Adapter("bimix", BIMIX, build_bimix),
    Adapter("moduleformer", MODULEFORMER, build_moduleformer),
    Adapter("gzip", GZIP, build_gzip),
    Adapter("revisiting", REVISITING, build_revisiting),
    Adapter("steplaw", STEPLAW, build_steplaw),
)
