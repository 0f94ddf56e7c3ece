"""Read a researcher's own runs into the fitting shape, or say exactly what is wrong with them.

One run is one model. :func:`read_runs` accepts a CSV / Parquet / JSON-lines table, a directory of
Weights & Biases CSV exports, a TensorBoard log directory or a DataFrame, and returns :class:`UserRuns`:
a table ``model, n_params, n_tokens, loss`` (+ ``step``) sorted by (n_params, model, n_tokens), with a
record of where each column came from. Every rule that fails raises one
:class:`~scalinglaw.DataError` line naming the column, rows or run and what to do.

>>> import pandas as pd
>>> table = pd.DataFrame({"run": ["s-125m"] * 2 + ["s-350m"] * 2, "step": [1, 2, 1, 2],
...                       "val_loss": [3.5, 3.2, 3.1, 2.9]})
>>> runs = read_runs(table, columns={"model": "run", "loss": "val_loss"}, batch_tokens=1e9)
>>> runs.table.iloc[0][["model", "n_params", "n_tokens"]].to_dict()
{'model': 's-125m', 'n_params': 125000000.0, 'n_tokens': 1000000000.0}
>>> runs.provenance["n_params"]
'parsed from run names (s-125m: 125M, s-350m: 350M)'
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.data import read_table, read_tensorboard, read_wandb_csv
from scalinglaw.exceptions import DataError
from scalinglaw.guide.defaults import MAX_NATS

__all__ = ["COLUMNS", "UserRuns", "parse_size", "read_runs", "validate_runs"]

#: The columns of the fitting shape, and the names :func:`read_runs` recognises for each when no
#: ``columns`` mapping is given (first match wins; the choice is recorded in the provenance).
COLUMNS: dict[str, tuple[str, ...]] = {
    "model": ("model", "run", "run_name", "name"),
    "n_params": ("n_params", "params", "num_params", "parameters"),
    "n_tokens": ("n_tokens", "tokens", "tokens_seen", "num_tokens"),
    "loss": ("loss", "val_loss", "eval_loss", "validation_loss"),
    "step": ("step", "Step", "_step", "iteration"),
}
#: Flag names of the CLI for each column (for hints in error messages).
_FLAGS = {
    "model": "--model-col",
    "n_params": "--params-col",
    "n_tokens": "--tokens-col",
    "loss": "--loss-col",
}
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
#: A size in a run name: a number with an M/B/T suffix, not glued to other digits or letters.
_NAME_SIZE = re.compile(r"(?<![0-9.a-z])(\d+(?:\.\d+)?)\s*([mbt])(?![a-z0-9])", re.IGNORECASE)
_TOKEN_METRICS = ("tokens", "n_tokens", "tokens_seen", "num_tokens", "train/tokens", "trainer/tokens")


@dataclass(frozen=True)
class UserRuns:
    """Validated runs and where they came from.

    Attributes
    ----------
    table
        ``model`` (str), ``n_params``, ``n_tokens``, ``loss`` (nats; float64) and ``step`` (Int64, if
        logged), one row per checkpoint, sorted by (n_params, model, n_tokens), fresh index.
    source
        What was read (a path or ``"DataFrame"``).
    provenance
        Column name -> how its values were obtained (e.g. ``"step x 2097152 batch tokens"``).
    """

    table: pd.DataFrame
    source: str = "DataFrame"
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_hash(self) -> str:
        """sha256 of the fitted columns (model, n_params, n_tokens, loss), independent of row order."""
        return data_hash(self.table)


def data_hash(table: pd.DataFrame) -> str:
    """sha256 over the canonical text of ``model, n_params, n_tokens, loss`` (sorted, repr floats)."""
    t = table.sort_values(["model", "n_tokens"], kind="stable")
    h = hashlib.sha256()
    for m, n, d, y in zip(t["model"], t["n_params"], t["n_tokens"], t["loss"], strict=True):
        h.update(f"{m}\t{float(n)!r}\t{float(d)!r}\t{float(y)!r}\n".encode())
    return h.hexdigest()


def parse_size(text: Any) -> float:
    """A parameter count from ``1.3e9``, ``"1.3B"``, ``"125M"`` or ``"350m"``; NaN if it is not one.

    >>> parse_size("1.3B"), parse_size("125M"), parse_size(7e9), parse_size("large")
    (1300000000.0, 125000000.0, 7000000000.0, nan)
    """
    if isinstance(text, int | float | np.integer | np.floating) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return math.nan
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([kmbgtKMBGT]?)\s*", text)
    if not m:
        return math.nan
    return float(m.group(1)) * (_SUFFIX[m.group(2).lower()] if m.group(2) else 1.0)


def _size_from_name(name: str) -> float | None:
    found = _NAME_SIZE.findall(name)
    sizes = {float(num) * _SUFFIX[suf.lower()] for num, suf in found}
    return sizes.pop() if len(sizes) == 1 else None


def _short(x: float) -> str:
    for div, s in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{s}"
    return f"{x:.3g}"


def _rows(index: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    return (
        ("row " if len(index) == 1 else "rows ")
        + shown
        + (f" ... ({len(index)} in all)" if len(index) > limit else "")
    )


# ---------------------------------------------------------------------------------------------- reading


def read_runs(
    source: Any,
    *,
    columns: Mapping[str, str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    batch_tokens: float | None = None,
    metric: str | None = None,
    tokens_metric: str | None = None,
    perplexity: bool = False,
    format: str | None = None,
) -> UserRuns:
    """Read and validate runs from a file, a directory of exports, a log directory or a DataFrame.

    Parameters
    ----------
    source
        A DataFrame; a ``.csv`` / ``.parquet`` / ``.jsonl`` file (one row per checkpoint); a single W&B
        CSV export; a directory of W&B CSV exports; or a TensorBoard log directory (one subdirectory per
        run). Directories are told apart by their content (event files or CSVs).
    columns
        Your column name for each of ``model``, ``n_params``, ``n_tokens``, ``loss``, ``step`` that is
        not already called so (tables only), e.g. ``{"model": "run", "loss": "val_loss"}``.
    params
        Parameter counts when the table has no ``n_params`` column (and always for W&B / TensorBoard):
        a mapping run -> count, or a CSV with columns ``model`` and ``n_params``. Without it, counts are
        parsed from run names (``pythia-160m`` -> 160M).
    batch_tokens
        Tokens per optimizer step: token counts are ``step x batch_tokens`` when no token count is logged.
    metric
        The loss metric (W&B metric key or TensorBoard tag) when several are logged.
    tokens_metric
        A metric / tag holding token counts (found automatically when named ``tokens`` and the like).
    perplexity
        The loss column holds perplexities: converted to nats with ln.
    format
        ``"table"``, ``"wandb"`` or ``"tensorboard"``; guessed when omitted.

    Returns
    -------
    UserRuns

    Raises
    ------
    DataError
        Anything malformed, with one line saying what, where and what to do.
    """
    where = "DataFrame" if isinstance(source, pd.DataFrame) else str(source)
    fmt = format or _guess_format(source)
    provenance: dict[str, str] = {}
    if fmt == "table":
        frame = source.copy() if isinstance(source, pd.DataFrame) else _read_file(Path(source))
        frame = _map_columns(frame, columns or {}, provenance, where)
    elif fmt == "wandb":
        frame = _read_wandb(Path(source), metric, tokens_metric, provenance)
    elif fmt == "tensorboard":
        frame = _read_tb(Path(source), metric, tokens_metric, provenance)
    else:
        raise DataError(f"{where}: unknown format {format!r}; use 'table', 'wandb' or 'tensorboard'")
    if "model" not in frame.columns:
        raise DataError(
            f"{where}: no run column: name the column that identifies runs with --model-col "
            f"(columns = {{'model': ...}}); found {_list(frame.columns)}"
        )
    frame["model"] = frame["model"].astype(str) if frame["model"].notna().all() else frame["model"]
    if "n_tokens" not in frame.columns:
        _tokens_from_steps(frame, batch_tokens, provenance, where)
    if "n_params" not in frame.columns:
        _params_for_runs(frame, params, provenance, where)
    elif params is not None:
        raise DataError(f"{where}: both an n_params column and a params table were given; use one")
    if perplexity:
        provenance["loss"] = provenance.get("loss", "column 'loss'") + ", converted from perplexity with ln"
    table = validate_runs(frame, where=where, perplexity=perplexity)
    return UserRuns(table, where, provenance)


def _guess_format(source: Any) -> str:
    if isinstance(source, pd.DataFrame):
        return "table"
    path = Path(source)
    if path.is_dir():
        if any(p.is_file() for p in path.rglob("*tfevents*")):
            return "tensorboard"
        if any(path.glob("*.csv")):
            return "wandb"
        raise DataError(f"{path}: directory has no TensorBoard event files and no CSV exports")
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if "tfevents" in path.name:
        return "tensorboard"
    if path.suffix.lower() == ".csv" and _looks_like_wandb(path):
        return "wandb"
    return "table"


def _looks_like_wandb(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as fh:
        header = fh.readline().strip().split(",")
    names = [h.strip('"') for h in header]
    return "Step" in names and any(" - " in n for n in names)


def _read_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    return read_table(path)


def _list(cols: Any) -> str:
    cols = [str(c) for c in cols]
    return ", ".join(cols[:15]) + (" ..." if len(cols) > 15 else "") if cols else "no columns"


def _map_columns(
    frame: pd.DataFrame, columns: Mapping[str, str], provenance: dict[str, str], where: str
) -> pd.DataFrame:
    unknown = [k for k in columns if k not in COLUMNS]
    if unknown:
        raise DataError(f"columns mapping: unknown key {unknown[0]!r}; keys are {', '.join(COLUMNS)}")
    rename = {}
    for canon, theirs in columns.items():
        if theirs not in frame.columns:
            flag = _FLAGS.get(canon, f"columns['{canon}']")
            raise DataError(
                f"{where}: missing column {theirs!r} (given for {canon} with {flag}); "
                f"found {_list(frame.columns)}"
            )
        rename[theirs] = canon
        provenance[canon] = f"column {theirs!r}"
    for canon, aliases in COLUMNS.items():
        if canon in columns:
            continue
        for alias in aliases:
            if alias in frame.columns and alias not in rename:
                rename[alias] = canon
                provenance[canon] = f"column {alias!r}"
                break
    frame = frame.rename(columns=rename)
    keep = [c for c in COLUMNS if c in frame.columns]
    frame = frame[keep].copy()
    if "loss" not in frame.columns:
        raise DataError(
            f"{where}: missing column 'loss' (also looked for {', '.join(COLUMNS['loss'][1:])}); "
            f"found {_list(rename.keys() or frame.columns)}. Name yours with --loss-col"
        )
    return frame


def _split_wandb(name: str) -> tuple[str, str]:
    run, sep, metric = name.rpartition(" - ")
    return (run, metric) if sep else ("", name)


def _read_wandb(
    path: Path, metric: str | None, tokens_metric: str | None, prov: dict[str, str]
) -> pd.DataFrame:
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    parts = []
    for f in files:
        long = read_wandb_csv(f)
        split = [_split_wandb(m) for m in long["metric"]]
        long["model"] = [r or f.stem for r, _ in split]
        long["metric"] = [m for _, m in split]
        parts.append(long)
    long = pd.concat(parts, ignore_index=True).drop_duplicates(["model", "metric", "step", "value"])
    return _pivot_long(long, str(path), metric, tokens_metric, prov, kind="W&B metric")


def _read_tb(path: Path, metric: str | None, tokens_metric: str | None, prov: dict[str, str]) -> pd.DataFrame:
    long = read_tensorboard(path)
    root = path if path.is_dir() else path.parent
    run_of = {}
    for file in long["file"].unique():
        rel = Path(file).parent.relative_to(root)
        run_of[file] = str(rel) if str(rel) != "." else root.name
    long = long.assign(model=long["file"].map(run_of)).rename(columns={"tag": "metric"})
    return _pivot_long(
        long[["model", "metric", "step", "value"]], str(path), metric, tokens_metric, prov, "tag"
    )


def _pivot_long(
    long: pd.DataFrame,
    where: str,
    metric: str | None,
    tokens_metric: str | None,
    prov: dict[str, str],
    kind: str,
) -> pd.DataFrame:
    if long.empty:
        raise DataError(f"{where}: no logged values found")
    names = sorted(set(long["metric"]))
    if metric is None:
        candidates = [n for n in names if n not in _TOKEN_METRICS and n != tokens_metric]
        if len(candidates) > 1:
            candidates = [n for n in candidates if "loss" in n.lower()]
        if len(candidates) != 1:
            raise DataError(
                f"{where}: cannot tell which {kind} is the loss among {', '.join(names[:10])}; "
                "choose one with --metric"
            )
        metric = candidates[0]
    elif metric not in names:
        raise DataError(f"{where}: no {kind} {metric!r}; found {', '.join(names[:10])}")
    prov["loss"] = f"{kind} {metric!r}"
    prov["model"] = "run names" + (
        " (W&B column prefixes)" if kind == "W&B metric" else " (log subdirectories)"
    )
    loss = long[long["metric"] == metric]
    frame = pd.DataFrame(
        {"model": loss["model"].to_numpy(), "step": loss["step"].to_numpy(), "loss": loss["value"].to_numpy()}
    )
    tok_name = tokens_metric or next((n for n in names if n in _TOKEN_METRICS), None)
    if tokens_metric is not None and tokens_metric not in names:
        raise DataError(
            f"{where}: no {kind} {tokens_metric!r} for token counts; found {', '.join(names[:10])}"
        )
    if tok_name is not None:
        tok = long[long["metric"] == tok_name][["model", "step", "value"]].rename(
            columns={"value": "n_tokens"}
        )
        tok = tok.drop_duplicates(["model", "step"])
        frame = frame.merge(tok, on=["model", "step"], how="left")
        prov["n_tokens"] = f"{kind} {tok_name!r}"
    return frame


def _tokens_from_steps(
    frame: pd.DataFrame, batch_tokens: float | None, prov: dict[str, str], where: str
) -> None:
    if batch_tokens is None:
        raise DataError(
            f"{where}: no token counts (no n_tokens column or tokens metric); if your runs log steps, pass "
            "--batch-tokens (tokens per optimizer step, e.g. 2097152 for 1024 sequences of 2048)"
        )
    if "step" not in frame.columns:
        raise DataError(
            f"{where}: --batch-tokens needs a step column to multiply; found {_list(frame.columns)}"
        )
    if not (isinstance(batch_tokens, int | float) and batch_tokens > 0 and math.isfinite(batch_tokens)):
        raise DataError(f"batch_tokens == {batch_tokens!r}, must be a positive number")
    step = pd.to_numeric(frame["step"], errors="coerce")
    frame["n_tokens"] = step * float(batch_tokens)
    prov["n_tokens"] = f"step x {batch_tokens:g} batch tokens"


def _params_for_runs(
    frame: pd.DataFrame,
    params: Mapping[str, float] | str | os.PathLike[str] | None,
    prov: dict[str, str],
    where: str,
) -> None:
    runs = list(dict.fromkeys(frame["model"].astype(str)))
    if params is None:
        sizes = {r: _size_from_name(r) for r in runs}
        bad = [r for r, s in sizes.items() if s is None]
        if bad:
            raise DataError(
                f"{where}: no n_params column and no size in run name {bad[0]!r}"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
                + "; pass --params-col, or a per-run table with --params FILE (columns model, n_params)"
            )
        shown = ", ".join(f"{r}: {_short(s)}" for r, s in list(sizes.items())[:6])
        prov["n_params"] = f"parsed from run names ({shown}{', ...' if len(sizes) > 6 else ''})"
    else:
        if isinstance(params, Mapping):
            table, what = dict(params), "the given per-run table"
        else:
            t = read_table(params)
            if not {"model", "n_params"} <= set(t.columns):
                raise DataError(
                    f"{params}: a per-run table needs columns model and n_params; found {_list(t.columns)}"
                )
            table, what = (
                dict(zip(t["model"].astype(str), t["n_params"], strict=True)),
                f"per-run table {params}",
            )
        missing = [r for r in runs if r not in table]
        if missing:
            raise DataError(f"{where}: run {missing[0]!r} is not in {what}; it lists {_list(table)}")
        sizes = {r: parse_size(table[r]) for r in runs}
        prov["n_params"] = f"from {what}"
    frame["n_params"] = frame["model"].astype(str).map(sizes)


# ------------------------------------------------------------------------------------------- validation


def validate_runs(frame: pd.DataFrame, *, where: str = "runs", perplexity: bool = False) -> pd.DataFrame:
    """Check runs in the fitting shape and return a clean, sorted copy.

    Rules: columns ``model``, ``n_params``, ``n_tokens``, ``loss`` present; numbers (parameter counts
    may be written ``125M``); nothing missing; all > 0 and finite; one size per run; no duplicate
    checkpoint (same run and tokens, or same run and step); tokens increasing along each run (in step
    order when steps are logged, else in row order); losses that look like nats (unless
    ``perplexity``, which converts with ln).

    Raises
    ------
    DataError
        The first rule broken, naming the column and rows (or run).
    """
    missing = [c for c in ("model", "n_params", "n_tokens", "loss") if c not in frame.columns]
    if missing:
        hint = " or ".join(_FLAGS[c] for c in missing)
        raise DataError(
            f"{where}: missing column {missing[0]!r}; found {_list(frame.columns)}. Map yours with {hint}"
        )
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{where}: no rows")
    out = pd.DataFrame({"model": frame["model"]})
    nulls = np.flatnonzero(frame["model"].isna().to_numpy())
    if nulls.size:
        raise DataError(f"{where}: column 'model' has {nulls.size} missing run names ({_rows(nulls)})")
    out["model"] = frame["model"].astype(str)
    for col in ("n_params", "n_tokens", "loss", "step"):
        if col not in frame.columns or (col == "step" and frame[col].isna().all()):
            continue  # an optional step column that was never filled in is no step column
        raw = frame[col]
        values = (
            raw.map(parse_size).astype(float)
            if col == "n_params" and raw.dtype == object
            else pd.to_numeric(raw, errors="coerce").astype(float)
        )
        text = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
        if text.size:
            eg = ", ".join(repr(raw.iloc[i]) for i in text[:3])
            tip = " (counts like 125M or 1.3B are fine)" if col == "n_params" else ""
            raise DataError(
                f"{where}: column {col!r} has {text.size} non-numeric values ({_rows(text)}: {eg}){tip}"
            )
        nan = np.flatnonzero(values.isna().to_numpy())
        if nan.size:
            raise DataError(
                f"{where}: column {col!r} has {nan.size} missing (NaN) values ({_rows(nan)}); "
                "drop or fill those checkpoints"
            )
        v = values.to_numpy()
        bad = np.flatnonzero(~np.isfinite(v) | (v <= 0) if col != "step" else ~np.isfinite(v) | (v < 0))
        if bad.size:
            rule = "negative or non-finite" if col == "step" else "<= 0 or infinite"
            raise DataError(
                f"{where}: column {col!r} has {bad.size} values {rule} ({_rows(bad)}); {col} must be positive"
            )
        out[col] = v
    sizes = out.groupby("model", sort=False)["n_params"].nunique()
    mixed = sizes.index[sizes > 1]
    if len(mixed):
        vals = sorted(out.loc[out["model"] == mixed[0], "n_params"].unique())
        raise DataError(
            f"{where}: run {mixed[0]!r} has {len(vals)} different n_params "
            f"({', '.join(_short(v) for v in vals[:4])}); "
            "one run is one model size"
        )
    for key in ("n_tokens", "step"):
        if key not in out.columns:
            continue
        dup = out.duplicated(["model", key], keep=False).to_numpy()
        if dup.any():
            first = out.iloc[int(np.flatnonzero(dup)[0])]
            same = np.flatnonzero(((out["model"] == first["model"]) & (out[key] == first[key])).to_numpy())
            raise DataError(
                f"{where}: duplicate checkpoints: run {first['model']!r} has {same.size} rows at {key} "
                f"{first[key]:g} ({_rows(same)}); keep one per checkpoint (a resumed run logged twice?)"
            )
    order = out.sort_values(["model", "step"], kind="stable") if "step" in out.columns else out
    for model, g in order.groupby("model", sort=False):
        d = np.diff(g["n_tokens"].to_numpy())
        if (d <= 0).any():
            i = int(np.flatnonzero(d <= 0)[0])
            along = "step order" if "step" in out.columns else "row order"
            raise DataError(
                f"{where}: tokens not increasing along run {model!r} ({along}): "
                f"n_tokens {g['n_tokens'].iloc[i + 1]:g} "
                f"at row {g.index[i + 1]} follows {g['n_tokens'].iloc[i]:g} at row {g.index[i]}; "
                "is the tokens column cumulative, and is this one run?"
            )
    if perplexity:
        out["loss"] = np.log(out["loss"])
        if (out["loss"] <= 0).any():
            rows = np.flatnonzero((out["loss"] <= 0).to_numpy())
            raise DataError(f"{where}: perplexities must exceed 1 ({_rows(rows)})")
    else:
        finals = out.loc[out.groupby("model")["n_tokens"].idxmax(), "loss"]
        if float(finals.median()) > MAX_NATS:
            raise DataError(
                f"{where}: column 'loss' looks like perplexities "
                f"(median final value {float(finals.median()):.3g} > "
                f"{MAX_NATS:g} nats, worse than a uniform guess over 160k tokens); give losses in nats "
                "or pass --perplexity to convert with ln"
            )
    if "step" in out.columns:
        out["step"] = out["step"].astype("int64").astype("Int64")
    return out.sort_values(["n_params", "model", "n_tokens"], kind="stable", ignore_index=True)
