"""The long table: schema, validation, build, Parquet cache, and the public loaders.

One row per (model run, checkpoint, metric). Columns and dtypes (:data:`SCHEMA`):

======== ============ ===================================================================================
column   dtype        meaning
======== ============ ===================================================================================
family   category     scaled set, e.g. ``gpt3`` (see :func:`list_families`)
model    category     run id, unique across the table
n_params float64      parameters
n_tokens float64      training tokens seen at this checkpoint
flops    float64      training FLOPs to this checkpoint: 6 * n_params * n_tokens unless the source gives one
step     Int64        optimizer step, when the source has a real one
seed     Int64        training seed, when the source gives one
metric   category     ``val_loss``, ``train_loss``, ``lambada_ppl_loss``, ``<task>/acc``, ...
value    float64      the measurement, in ``unit``
unit     category     ``nats`` for losses (ln), ``accuracy`` for fractions in [0, 1], or another named unit
arch     category     ``dec``, ``enc-dec``, ``moe`` or ``ssm``
data     category     training corpus
epochs   float64      passes over the unique training data at this checkpoint, when known
source   category     ``owner/repo@<commit>:path`` of the upstream file the row comes from
======== ============ ===================================================================================
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglaw.data.families import ACCURACY, ADAPTERS, ARCHS, FAMILIES, NATS, Adapter, Context, Drop, Family
from scalinglaw.data.sources import cache_dir
from scalinglaw.exceptions import DataError

__all__ = [
    "COLUMNS",
    "FIT_COLUMNS",
    "SCHEMA",
    "BuildReport",
    "build_dataset",
    "build_report",
    "describe_family",
    "list_families",
    "load_dataset",
    "load_family",
    "validate",
]

logger = logging.getLogger("scalinglaw")

#: Long-table columns and their dtypes.
SCHEMA: dict[str, str] = {
    "family": "category",
    "model": "category",
    "n_params": "float64",
    "n_tokens": "float64",
    "flops": "float64",
    "step": "Int64",
    "seed": "Int64",
    "metric": "category",
    "value": "float64",
    "unit": "category",
    "arch": "category",
    "data": "category",
    "epochs": "float64",
    "source": "category",
}
COLUMNS = tuple(SCHEMA)
#: Columns of :func:`load_family`'s fitting shape.
FIT_COLUMNS = ("family", "model", "n_params", "n_tokens", "loss", "seed", "step", "flops")
_NULLABLE = {"step", "seed", "epochs"}
_STRINGS = [c for c, t in SCHEMA.items() if t == "category"]
#: Plausible range of a loss in nats: above any converged LM's per-token entropy floor, below a diverged
#: start (random init over a 50k-256k vocabulary is ~11-12 nats; early spikes reach ~22).
NATS_RANGE = (0.05, 30.0)
#: Units whose values are fractions in [0, 1].
FRACTION_UNITS = (ACCURACY, "fraction", "f1")
_SOURCE_RE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:.+$")
#: Fewest distinct model sizes for a multi-model scaling fit (paper §2: "at least three models").
MIN_SIZES_FOR_FIT = 3


@dataclass
class BuildReport:
    """What a build did: rows per family, documented drops, and how long it took (seconds)."""

    rows: dict[str, int] = field(default_factory=dict)
    drops: list[Drop] = field(default_factory=list)
    seconds: float = 0.0

    def drops_frame(self) -> pd.DataFrame:
        """Documented drops as a table: family, source, rows, reason (aggregated over files)."""
        if not self.drops:
            return pd.DataFrame(columns=["family", "reason", "rows", "files"])
        frame = pd.DataFrame([asdict(d) for d in self.drops])
        frame = frame[frame["rows"] > 0]
        return (
            frame.groupby(["family", "reason"], as_index=False)
            .agg(rows=("rows", "sum"), files=("source", "nunique"))
            .sort_values(["family", "reason"], ignore_index=True)
        )

    def to_json(self) -> str:
        return json.dumps(
            {"rows": self.rows, "drops": [asdict(d) for d in self.drops], "seconds": self.seconds}
        )

    @classmethod
    def from_json(cls, text: str) -> BuildReport:
        doc = json.loads(text)
        return cls(doc["rows"], [Drop(**d) for d in doc["drops"]], doc["seconds"])


# ---------------------------------------------------------------------------------------------- finalise


def _finalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill FLOPs (6ND where the adapter gave none) and cast to :data:`SCHEMA`."""
    frame = frame.loc[:, list(COLUMNS)].copy()
    for col in ("n_params", "n_tokens", "flops", "value", "epochs"):
        frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    missing = frame["flops"].isna()
    frame.loc[missing, "flops"] = 6.0 * frame.loc[missing, "n_params"] * frame.loc[missing, "n_tokens"]
    for col in ("step", "seed"):
        numbers = pd.to_numeric(frame[col], errors="raise").astype("float64")
        if (numbers.dropna() % 1 != 0).any():
            raise DataError(f"column {col!r} has non-integer values; a bug in the adapter")
        frame[col] = numbers.astype("Int64")
    for col in _STRINGS:
        frame[col] = frame[col].astype("str").astype("category")
    return frame


# -------------------------------------------------------------------------------------------- validation


def _fail(frame: pd.DataFrame, mask: np.ndarray, rule: str, fix: str) -> None:
    idx = np.flatnonzero(mask)
    if not idx.size:
        return
    sources = sorted(set(frame["source"].iloc[idx].astype(str)))
    shown = ", ".join(str(int(i)) for i in frame.index[idx[:8]])
    more = f" ... ({idx.size} in all)" if idx.size > 8 else ""
    first = frame.iloc[idx[0]]
    raise DataError(
        f"{rule}: {idx.size} row(s) from {', '.join(sources[:3])}{' ...' if len(sources) > 3 else ''} "
        f"(rows {shown}{more}; first: family={first['family']}, model={first['model']}, "
        f"metric={first['metric']}, n_tokens={first['n_tokens']}, value={first['value']}). {fix}"
    )


def validate(frame: pd.DataFrame) -> None:
    """Check a long table against the collection's rules; raise :class:`DataError` on the first violation.

    Rules: exact columns and dtypes (:data:`SCHEMA`); no missing value outside ``step``, ``seed``,
    ``epochs``; ``n_params``, ``n_tokens`` and ``flops`` positive and finite; ``value`` finite; ``arch`` in
    :data:`~scalinglaw.data.families.ARCHS`; ``source`` a provenance label; no duplicate (family, model,
    n_tokens, metric); losses in nats within :data:`NATS_RANGE`; fractions in [0, 1]; within a run, a
    step has one token count and tokens increase with the step. The error names the source file(s),
    the row labels and the rule.
    """
    if tuple(frame.columns) != COLUMNS:
        raise DataError(f"columns must be exactly {list(COLUMNS)}; got {list(frame.columns)}")
    for col, dtype in SCHEMA.items():
        if str(frame[col].dtype) != dtype:
            raise DataError(f"column {col!r} has dtype {frame[col].dtype}, expected {dtype}")
    for col in COLUMNS:
        if col not in _NULLABLE:
            _fail(
                frame,
                frame[col].isna().to_numpy(),
                f"missing value in column {col!r}",
                "Every row needs one.",
            )
    for col in ("n_params", "n_tokens", "flops"):
        v = frame[col].to_numpy()
        _fail(
            frame,
            ~(np.isfinite(v) & (v > 0)),
            f"column {col!r} must be positive and finite",
            "Fix the adapter or drop the rows on purpose.",
        )
    _fail(
        frame,
        ~np.isfinite(frame["value"].to_numpy()),
        "column 'value' must be finite",
        "Drop or fix the rows.",
    )
    _fail(
        frame,
        ~frame["arch"].isin(ARCHS).to_numpy(),
        f"column 'arch' must be one of {ARCHS}",
        "Use a known architecture.",
    )
    cats = frame["source"].cat.categories
    bad_cats = {c for c in cats if not _SOURCE_RE.match(str(c))}
    _fail(
        frame,
        frame["source"].isin(bad_cats).to_numpy(),
        "column 'source' must read owner/repo@commit:path",
        "Use Context.label().",
    )
    dup = frame.duplicated(["family", "model", "n_tokens", "metric"], keep=False).to_numpy()
    _fail(
        frame,
        dup,
        "duplicate (family, model, n_tokens, metric)",
        "Aggregate or de-duplicate them in the adapter.",
    )
    unit = frame["unit"].astype(str).to_numpy()
    value = frame["value"].to_numpy()
    lo, hi = NATS_RANGE
    _fail(
        frame,
        (unit == NATS) & ((value < lo) | (value > hi)),
        f"loss in nats outside the plausible range {NATS_RANGE}",
        "Check the unit conversion (perplexity -> ln, log2 -> ln).",
    )
    frac = np.isin(unit, FRACTION_UNITS)
    _fail(
        frame,
        frac & ((value < 0) | (value > 1)),
        "fraction (accuracy) outside [0, 1]",
        "Convert percentages and error rates.",
    )
    _check_steps(frame)


def _check_steps(frame: pd.DataFrame) -> None:
    has = frame["step"].notna().to_numpy()
    if not has.any():
        return
    sub = frame.loc[has, ["family", "model", "step", "n_tokens", "source", "metric", "value"]]
    keys = ["family", "model", "step"]
    per_step = sub.groupby(keys, observed=True)["n_tokens"].transform("nunique").to_numpy()
    _fail(
        sub, per_step > 1, "one step of a run maps to several token counts", "Check the tokens-per-step rule."
    )
    uniq = sub.drop_duplicates(keys).sort_values(keys)
    same_run = (uniq["family"].to_numpy()[1:] == uniq["family"].to_numpy()[:-1]) & (
        uniq["model"].to_numpy()[1:] == uniq["model"].to_numpy()[:-1]
    )
    bad = np.zeros(len(uniq), dtype=bool)
    bad[1:] = same_run & (np.diff(uniq["n_tokens"].to_numpy()) <= 0)
    _fail(uniq, bad, "tokens do not increase with the step within a run", "Check the tokens-per-step rule.")


# ------------------------------------------------------------------------------------------------- build


def build_dataset(
    *,
    sources: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    adapters: tuple[Adapter, ...] = ADAPTERS,
) -> tuple[pd.DataFrame, BuildReport]:
    """Build the long table from the upstream files, without touching the cache.

    Parameters
    ----------
    sources : path-like, optional
        Local mirror root (default ``$SCALINGLAW_SOURCES``; without one, files are downloaded).
    progress : callable, optional
        Called as ``progress(done, total, adapter_name)`` before each adapter and once at the end.
    adapters : tuple of Adapter
        The adapters to run (all by default).

    Returns
    -------
    (pandas.DataFrame, BuildReport)
        The validated long table and what the build did.

    Raises
    ------
    DataError, SourceError
        A file breaks a rule or cannot be obtained; nothing is returned.
    """
    start = time.perf_counter()
    ctx = Context(sources)
    frames, drops = [], []
    for i, adapter in enumerate(adapters):
        if progress is not None:
            progress(i, len(adapters), adapter.name)
        logger.info("building %s", adapter.name)
        built = adapter.build(ctx)
        frame = _finalise(built.frame)
        known = {f.name for f in adapter.families}
        stray = sorted(set(frame["family"].astype(str)) - known)
        if stray:
            raise DataError(f"adapter {adapter.name!r} produced undeclared families {stray}")
        validate(frame)
        frames.append(frame)
        drops.extend(built.drops)
    if progress is not None:
        progress(len(adapters), len(adapters), "validating")
    table = _concat(frames)
    validate(table)
    overlap = table.groupby("model", observed=True)["family"].nunique()
    if (overlap > 1).any():
        raise DataError(f"model ids shared by several families: {list(overlap[overlap > 1].index[:5])}")
    counts = table["family"].value_counts(sort=False)
    report = BuildReport({str(k): int(v) for k, v in counts.items()}, drops, time.perf_counter() - start)
    return table, report


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat([f.astype(dict.fromkeys(_STRINGS, "str")) for f in frames], ignore_index=True)
    for col in _STRINGS:
        table[col] = table[col].astype("category")
    return table


# ------------------------------------------------------------------------------------------------- cache


def _cache_key() -> str:
    """Hash of the data package's code, the registry and the package version: a new key rebuilds."""
    from scalinglaw import __version__

    root = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([*root.rglob("*.py"), root / "registry.tsv"]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_paths(key: str) -> tuple[Path, Path]:
    base = cache_dir() / "tables"
    return base / f"collection-{key}.parquet", base / f"collection-{key}.report.json"


_MEMORY: dict[tuple[str, str], tuple[pd.DataFrame, BuildReport]] = {}


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(
    *, sources=None, rebuild: bool = False, progress: Callable[[int, int, str], None] | None = None
) -> tuple[pd.DataFrame, BuildReport]:
    key = _cache_key()
    table_path, report_path = _cache_paths(key)
    memo = (key, str(table_path))
    if not rebuild and memo in _MEMORY:
        return _MEMORY[memo]
    if not rebuild and table_path.is_file() and report_path.is_file():
        try:
            table = pd.read_parquet(table_path)
            report = BuildReport.from_json(report_path.read_text(encoding="utf-8"))
            if tuple(table.columns) == COLUMNS:
                _MEMORY[memo] = (table, report)
                return table, report
        except Exception as exc:  # an unreadable cache is rebuilt, never trusted
            logger.warning("ignoring unreadable cache %s (%s)", table_path, exc)
    table, report = build_dataset(sources=sources, progress=progress)
    # The report is written first and the table last, so a complete table always has its report.
    _atomic_write(report_path, lambda p: p.write_text(report.to_json(), encoding="utf-8"))
    _atomic_write(table_path, lambda p: table.to_parquet(p, index=False))
    _MEMORY[memo] = (table, report)
    return table, report


def load_dataset(
    *,
    sources: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """The whole collection as one long table (built once, then read from the Parquet cache).

    Parameters
    ----------
    sources : path-like, optional
        Local mirror root for a build (default ``$SCALINGLAW_SOURCES``; else files are downloaded).
    rebuild : bool
        Rebuild even if a cached table exists.
    progress : callable, optional
        ``progress(done, total, name)`` callback during a build.

    Returns
    -------
    pandas.DataFrame
        One row per (model, checkpoint, metric); columns and dtypes as in :data:`SCHEMA`.

    Notes
    -----
    The cache lives in ``$SCALINGLAW_CACHE`` (else the user cache directory) under a name keyed by a hash
    of the adapters' code, the source registry and the package version, so it is rebuilt automatically
    when any of them changes. It is written atomically: a failed build leaves no cache.
    """
    return _load(sources=sources, rebuild=rebuild, progress=progress)[0].copy()


def build_report(*, sources: str | os.PathLike[str] | None = None) -> BuildReport:
    """The report of the build behind the cached table (building it if needed)."""
    return _load(sources=sources)[1]


# ----------------------------------------------------------------------------------------------- loaders


def _family(name: str) -> Family:
    if name in FAMILIES:
        return FAMILIES[name]
    lowered = name.lower()
    if lowered in FAMILIES:
        return FAMILIES[lowered]
    by_paper = [f for f in FAMILIES.values() if f.paper_name and f.paper_name.lower() == lowered]
    if len(by_paper) == 1:
        return by_paper[0]
    close = difflib.get_close_matches(lowered, list(FAMILIES), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise DataError(
        f"unknown family {name!r}.{hint} Known families: {', '.join(FAMILIES)} "
        "(see `scalinglaw data families`)."
    )


def load_family(
    name: str, *, metric: str | None = None, sources: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Runs of one family in the fitting shape.

    Parameters
    ----------
    name : str
        Family name (``list_families()["family"]``); the paper's name (e.g. ``"OPT"``) also works.
    metric : str, optional
        Metric to use as ``loss`` (default: the family's default loss metric).
    sources : path-like, optional
        Local mirror root, used only if the table must be built.

    Returns
    -------
    pandas.DataFrame
        Columns ``family, model, n_params, n_tokens, loss, seed, step, flops``: one row per
        (model, checkpoint) of the metric, ``loss`` in the metric's unit (nats for losses), float64
        numerics (``seed`` and ``step`` nullable Int64), sorted by (n_params, model, n_tokens), with a fresh
        RangeIndex.

    Raises
    ------
    DataError
        Unknown family (with suggestions) or a metric the family does not have.
    """
    fam = _family(name)
    table = _load(sources=sources)[0]
    rows = table[table["family"] == fam.name]
    metric = metric or fam.default_metric
    sel = rows[rows["metric"] == metric]
    if sel.empty:
        available = sorted(set(rows["metric"].astype(str)))
        close = difflib.get_close_matches(metric, available, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DataError(
            f"family {fam.name!r} has no metric {metric!r}.{hint} It has {len(available)}: "
            f"{', '.join(available[:12])}{' ...' if len(available) > 12 else ''}"
        )
    out = pd.DataFrame(
        {
            "family": sel["family"].astype(str).to_numpy(),
            "model": sel["model"].astype(str).to_numpy(),
            "n_params": sel["n_params"].to_numpy("float64"),
            "n_tokens": sel["n_tokens"].to_numpy("float64"),
            "loss": sel["value"].to_numpy("float64"),
            "seed": sel["seed"].to_numpy(),
            "step": sel["step"].to_numpy(),
            "flops": sel["flops"].to_numpy("float64"),
        }
    ).astype({"seed": "Int64", "step": "Int64"})
    return out.sort_values(["n_params", "model", "n_tokens"], kind="stable", ignore_index=True)


def list_families(*, sources: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per family of the collection.

    Returns
    -------
    pandas.DataFrame
        Columns ``family``, ``paper_name`` (the paper's ``scaled_set``; empty if never fitted), ``kind``
        (trajectories / final points), ``n_models`` and ``n_sizes`` (with default-metric rows),
        ``min_params``, ``max_params``, ``min_tokens``, ``max_tokens``, ``n_checkpoints`` (rows of the
        default metric), ``metric`` (the default), ``unit``, ``n_metrics``, ``arch``, ``data``,
        ``sources`` (upstream repositories), ``usable`` (a scaled set with >= 3 distinct sizes, i.e. fit
        for multi-model scaling laws) and ``note``.
    """
    table = _load(sources=sources)[0]
    by_family = {str(k): g for k, g in table.groupby("family", observed=True)}
    out = []
    for fam in FAMILIES.values():
        rows = by_family.get(fam.name, table.iloc[:0])
        d = rows[rows["metric"] == fam.default_metric]
        n_sizes = int(d["n_params"].nunique())
        repos = sorted({str(s).split("@")[0] for s in rows["source"].unique()})
        out.append(
            {
                "family": fam.name,
                "paper_name": fam.paper_name or "",
                "kind": fam.kind,
                "n_models": int(d["model"].nunique()),
                "n_sizes": n_sizes,
                "min_params": float(d["n_params"].min()) if len(d) else np.nan,
                "max_params": float(d["n_params"].max()) if len(d) else np.nan,
                "min_tokens": float(d["n_tokens"].min()) if len(d) else np.nan,
                "max_tokens": float(d["n_tokens"].max()) if len(d) else np.nan,
                "n_checkpoints": len(d),
                "metric": fam.default_metric,
                "unit": str(d["unit"].iloc[0]) if len(d) else "",
                "n_metrics": int(rows["metric"].nunique()),
                "arch": fam.arch,
                "data": fam.data,
                "sources": ", ".join(repos),
                "usable": bool(fam.scaled and n_sizes >= MIN_SIZES_FOR_FIT),
                "note": fam.note,
            }
        )
    return pd.DataFrame(out)


def describe_family(name: str, *, sources: str | os.PathLike[str] | None = None) -> dict:
    """Summary of one family: its metadata, its models and its metrics.

    Returns
    -------
    dict
        ``family`` (:class:`~scalinglaw.data.families.Family`), ``models`` (DataFrame: model, n_params,
        checkpoints of the default metric, min/max tokens, final value of the default metric) and
        ``metrics`` (DataFrame: metric, unit, rows, models).
    """
    fam = _family(name)
    table = _load(sources=sources)[0]
    rows = table[table["family"] == fam.name]
    d = rows[rows["metric"] == fam.default_metric].sort_values(["n_params", "model", "n_tokens"])
    models = (
        d.groupby("model", observed=True, sort=False)
        .agg(
            n_params=("n_params", "first"),
            checkpoints=("n_tokens", "size"),
            min_tokens=("n_tokens", "min"),
            max_tokens=("n_tokens", "max"),
            final=("value", "last"),
        )
        .reset_index()
    )
    models["model"] = models["model"].astype(str)
    metrics = (
        rows.groupby(["metric", "unit"], observed=True)
        .agg(rows=("value", "size"), models=("model", "nunique"))
        .reset_index()
        .astype({"metric": str, "unit": str})
        .sort_values("metric", ignore_index=True)
    )
    return {"family": fam, "models": models, "metrics": metrics}
