"""Readers for the file formats training curves come in.

Each reader takes one file and returns a pandas DataFrame in a long or tidy shape; it raises
:class:`~scalinglaw.exceptions.DataError` naming the file, the column or line and what to do when the
file is malformed, and never returns a partial result. They are public: feed your own runs through them
and then into :func:`scalinglaw.load_family`-shaped frames.

- :func:`read_table`: plain CSV (strict: a row with a missing field is an error) or JSON lines.
- :func:`read_wandb_csv`: a Weights & Biases "Export CSV" of one or more panels.
- :func:`read_tensorboard`: TensorBoard event files (needs the ``tensorboard`` extra).
- :func:`read_lm_eval_json`: an lm-evaluation-harness results JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError

__all__ = ["read_lm_eval_json", "read_table", "read_tensorboard", "read_wandb_csv"]

PathLike = str | os.PathLike[str]

#: Suffixes W&B appends to a panel's columns for its min/max envelope; they repeat the value for one run.
WANDB_ENVELOPE_SUFFIXES = ("__MIN", "__MAX", "__step")


def _require_columns(frame: pd.DataFrame, required: Iterable[str], path: PathLike) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)[:20]}. "
            "Check that this is the right file and that its header row is intact."
        )


def read_table(
    path: PathLike,
    *,
    format: str | None = None,
    required: Sequence[str] = (),
    header: bool = True,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a plain CSV or JSON-lines file, strictly.

    Parameters
    ----------
    path : path-like
        The file.
    format : {"csv", "jsonl"}, optional
        Defaults from the suffix (``.jsonl``/``.ndjson`` are JSON lines, anything else CSV).
    required : sequence of str
        Columns that must be present.
    header : bool
        Whether a CSV's first row is its header. Without one, pass ``names``.
    names : sequence of str, optional
        Column names for a header-less CSV.

    Returns
    -------
    pandas.DataFrame
        One row per record; numeric columns parsed as numbers.

    Raises
    ------
    DataError
        Unreadable file, a CSV row with a different number of fields than the header (e.g. a truncated
        file), invalid JSON on some line, or a missing required column.
    """
    path = Path(path)
    fmt = format or ("jsonl" if path.suffix.lower() in {".jsonl", ".ndjson"} else "csv")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if fmt == "jsonl":
        frame = pd.DataFrame.from_records(_read_jsonl(path))
    elif fmt == "csv":
        frame = _read_csv_strict(path, header=header, names=names)
    else:
        raise DataError(f"{path}: unknown format {format!r}; use 'csv' or 'jsonl'")
    _require_columns(frame, required, path)
    return frame


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}: line {lineno} is not valid JSON ({exc.msg} at column {exc.colno}); "
                    "the file may be truncated or not JSON lines"
                ) from None
            if not isinstance(record, dict):
                raise DataError(
                    f"{path}: line {lineno} is a JSON {type(record).__name__}, expected an object"
                )
            records.append(record)
    return records


def _read_csv_strict(path: Path, *, header: bool, names: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # pyarrow's parser rejects rows whose field count differs from the header, which pandas would pad
    # with NaN: a truncated last line must be an error, not a silently shortened record.
    if not header and not names:
        raise DataError(f"{path}: a header-less CSV needs column names")
    if names:
        read = pacsv.ReadOptions(column_names=list(names), skip_rows=1 if header else 0)
    else:
        read = pacsv.ReadOptions()
    try:
        table = pacsv.read_csv(
            path, read_options=read, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
        )
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"{path}: not a well-formed CSV ({exc}). The file may be truncated or hand-edited."
        ) from None
    frame = table.to_pandas()
    if frame.columns.duplicated().any():
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"{path}: duplicate column name(s) {dup}")
    return frame


def read_wandb_csv(path: PathLike, *, step: str = "Step") -> pd.DataFrame:
    """Read a Weights & Biases CSV export into a long table.

    W&B exports one ``Step`` column and, per run and panel, a value column plus ``__MIN``/``__MAX``
    envelope columns; cells are empty where a run did not log at that step.

    Parameters
    ----------
    path : path-like
        The exported CSV.
    step : str
        Name of the step column.

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (int64), ``metric`` (the exported column name, e.g. ``"k2 training - lm loss"``)
        and ``value`` (float64), one row per logged (step, metric); empty cells and envelope columns dropped.

    Raises
    ------
    DataError
        Malformed CSV, no step column, a non-numeric value or step, or no metric column.
    """
    frame = read_table(path, required=[step])
    metrics = [c for c in frame.columns if c != step and not c.endswith(WANDB_ENVELOPE_SUFFIXES)]
    if not metrics:
        raise DataError(f"{path}: no metric column besides {step!r}; is this a W&B export?")
    steps = pd.to_numeric(frame[step], errors="coerce")
    bad = np.flatnonzero(steps.isna().to_numpy() | (steps.to_numpy() % 1 != 0))
    if bad.size:
        raise DataError(f"{path}: column {step!r} has {bad.size} non-integer value(s) (rows {_rows(bad)})")
    long = frame[[step, *metrics]].melt(id_vars=step, var_name="metric", value_name="value")
    values = pd.to_numeric(long["value"], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & long["value"].notna().to_numpy())
    if bad.size:
        raise DataError(
            f"{path}: {bad.size} non-numeric value(s) in column(s) "
            f"{sorted(set(long['metric'].iloc[bad]))[:5]} (first: {long['value'].iloc[bad[0]]!r})"
        )
    out = pd.DataFrame({"step": long[step].astype("int64"), "metric": long["metric"], "value": values})
    return out[out["value"].notna()].reset_index(drop=True)


def _rows(index: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    return shown + (f", ... ({len(index)} in all)" if len(index) > limit else "")


def _import_tensorboard():
    try:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2
        from tensorboard.util import tensor_util
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Reading TensorBoard event files needs the tensorboard package: "
            'pip install "scalinglaw[tensorboard]"'
        ) from exc
    return RawEventFileLoader, event_pb2, tensor_util


#: Bytes a TFRecord adds around each payload: 8-byte length, 4-byte length CRC, 4-byte data CRC.
_TFRECORD_OVERHEAD = 16


def read_tensorboard(path: PathLike, *, tags: Iterable[str] | None = None) -> pd.DataFrame:
    """Read scalar summaries from TensorBoard event files.

    Uses TensorBoard's own record loader and protobuf classes (no hand-parsing), and checks that every
    byte of each file was consumed, so a truncated or corrupted file is an error rather than a curve that
    silently stops early.

    Parameters
    ----------
    path : path-like
        An event file (``events.out.tfevents.*``) or a directory searched recursively for them.
    tags : iterable of str, optional
        Keep only these scalar tags.

    Returns
    -------
    pandas.DataFrame
        Columns ``file`` (str), ``step`` (int64), ``tag`` (str), ``value`` (float64), ``wall_time``
        (float64, seconds since the epoch), one row per scalar event, in file then record order.

    Raises
    ------
    ImportError
        Without the ``tensorboard`` extra.
    DataError
        No event file found, or a file that is truncated, corrupt or not an event file.
    """
    loader_cls, event_pb2, tensor_util = _import_tensorboard()
    path = Path(path)
    files = sorted(path.rglob("*tfevents*")) if path.is_dir() else [path]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DataError(f"{path}: no TensorBoard event file (events.out.tfevents.*) found")
    wanted = None if tags is None else set(tags)
    rows: list[tuple[str, int, str, float, float]] = []
    for file in files:
        size = file.stat().st_size
        consumed = 0
        n_records = 0
        for record in loader_cls(str(file)).Load():
            consumed += len(record) + _TFRECORD_OVERHEAD
            n_records += 1
            try:
                event = event_pb2.Event.FromString(record)
            except Exception as exc:
                raise DataError(f"{file}: record {n_records} is not a TensorBoard event ({exc})") from None
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                if wanted is not None and value.tag not in wanted:
                    continue
                scalar = _scalar(value, tensor_util)
                if scalar is not None:
                    rows.append((str(file), int(event.step), value.tag, scalar, float(event.wall_time)))
        if consumed != size or n_records == 0:
            raise DataError(
                f"{file}: truncated or corrupt event file (read {n_records} valid record(s), "
                f"{consumed} of {size} bytes). Re-copy the file; nothing from it was used."
            )
    frame = pd.DataFrame.from_records(rows, columns=["file", "step", "tag", "value", "wall_time"])
    return frame.astype({"step": "int64", "value": "float64", "wall_time": "float64"})


def _scalar(value, tensor_util) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor":
        array = tensor_util.make_ndarray(value.tensor)
        if array.size == 1 and np.issubdtype(array.dtype, np.number):
            return float(array.reshape(()))
    return None


def read_lm_eval_json(path: PathLike) -> pd.DataFrame:
    """Read an lm-evaluation-harness results JSON into a long table.

    Parameters
    ----------
    path : path-like
        A file with a ``"results"`` object mapping task -> {metric: value, metric_stderr: value}.

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``metric`` (as the harness names it: ``acc``, ``acc_norm``, ``ppl``,
        ``word_perplexity``, ...), ``value`` and ``stderr`` (float64, NaN when absent), one row per
        (task, metric). The file's ``config`` object, if any, is in ``frame.attrs["config"]``.
        Values are as the harness wrote them: accuracies in [0, 1], perplexities raw (not logged).

    Raises
    ------
    DataError
        Invalid JSON, no ``results`` object, or a non-numeric metric value.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); the file may be truncated") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict):
        raise DataError(f"{path}: no 'results' object; is this an lm-evaluation-harness output?")
    tasks, metrics, values, stderrs = [], [], [], []
    for task, scores in results.items():
        if not isinstance(scores, dict):
            raise DataError(f"{path}: results[{task!r}] is not an object")
        for metric, value in scores.items():
            if metric.endswith("_stderr") or metric == "alias":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(f"{path}: results[{task!r}][{metric!r}] = {value!r} is not a number")
            stderr = scores.get(f"{metric}_stderr")
            tasks.append(task)
            metrics.append(metric)
            values.append(float(value))
            stderrs.append(float(stderr) if isinstance(stderr, int | float) else np.nan)
    frame = pd.DataFrame({"task": tasks, "metric": metrics, "value": values, "stderr": stderrs})
    frame.attrs["config"] = doc.get("config", {})
    return frame
