"""GPT-3 (Brown et al. 2020): training and validation loss curves digitised from the paper's figure.

Source: ``IBM/ColPret`` ``raw_data/gpt3/extracted.csv`` (columns model, step, train_loss, val_loss) and
``raw_data/gpt3/gpt3_metadata.xlsx`` (Table 2.1 of the GPT-3 paper: name, n_params, layers, ...).

Units: losses are the paper's cross-entropy in nats, as digitised.

Fixed here:

- ``step`` in the CSV is **billions of tokens**, not optimizer steps: ``n_tokens = step * 1e9`` and the
  ``step`` column of the table is left empty.
- Each row carries either a train or a validation loss; they become two metrics, ``train_loss`` and
  ``val_loss`` (the default, as in the paper), instead of a row whose other loss is NaN.
- Digitising a curve yields several points at the same x (the pixel column of a steep segment). Points
  sharing (model, tokens, metric) are averaged into one; the number of merged points is in the build
  report. Parameter counts come from the metadata sheet (read with the standard library, no Excel
  dependency).
"""

from __future__ import annotations

import re
import zipfile
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from scalinglaw.data.families._base import NATS, Adapter, Built, Context, Drop, Family, parse_size, rows
from scalinglaw.data.readers import read_table
from scalinglaw.exceptions import DataError

REPO = "IBM/ColPret"
CURVES = "raw_data/gpt3/extracted.csv"
METADATA = "raw_data/gpt3/gpt3_metadata.xlsx"
#: The CSV's ``step`` unit: billions of tokens (x axis of Brown et al. 2020, Fig. 4 / App. D).
TOKENS_PER_STEP_UNIT = 1e9

FAMILIES = (
    Family(
        "gpt3",
        "gpt3",
        "val_loss",
        "dec",
        "gpt3-mix",
        note="8 GPT-3 sizes, 125M-175B, ~300B tokens; curves digitised from the paper",
    ),
)

_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_xlsx_rows(path) -> list[list[str]]:
    """Cell texts of the first worksheet of an .xlsx file, row by row (standard library only)."""
    try:
        with zipfile.ZipFile(path) as zf:
            shared = []
            if "xl/sharedStrings.xml" in zf.namelist():
                root = ElementTree.fromstring(zf.read("xl/sharedStrings.xml"))
                shared = ["".join(t.text or "" for t in si.iter(f"{{{_NS['s']}}}t")) for si in root]
            sheet = ElementTree.fromstring(zf.read("xl/worksheets/sheet1.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise DataError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    out = []
    for row in sheet.iter(f"{{{_NS['s']}}}row"):
        cells = []
        for c in row.iter(f"{{{_NS['s']}}}c"):
            v = c.find("s:v", _NS)
            text = "" if v is None else (v.text or "")
            if c.get("t") == "s" and text:
                text = shared[int(text)]
            elif c.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in c.iter(f"{{{_NS['s']}}}t"))
            cells.append(text)
        out.append(cells)
    return out


def _sizes(ctx: Context) -> dict[str, float]:
    path = ctx.path(REPO, METADATA)
    sizes = {}
    for cells in read_xlsx_rows(path):
        if len(cells) < 2 or not cells[0].startswith("GPT-3"):
            continue
        key = cells[0].removeprefix("GPT-3").strip().split(" ")[0].lower()  # "Small", "2.7B", "175B or ..."
        sizes[key] = parse_size(cells[1])
    if len(sizes) != 8:
        raise DataError(f"{path}: expected 8 GPT-3 models in the metadata sheet, found {sorted(sizes)}")
    return sizes


def _readings(ctx: Context) -> tuple[dict[str, float], pd.DataFrame]:
    """Model sizes and every digitised reading, long: model, step, metric, value."""
    sizes = _sizes(ctx)
    path = ctx.path(REPO, CURVES)
    raw = read_table(path, required=["model", "step", "train_loss", "val_loss"])
    unknown = sorted(set(raw["model"]) - set(sizes))
    if unknown:
        raise DataError(f"{path}: column 'model' has names without metadata: {unknown}")
    both = raw["train_loss"].notna() & raw["val_loss"].notna()
    if both.any():
        raise DataError(
            f"{path}: rows {list(np.flatnonzero(both))[:8]} carry both losses; expected one per row"
        )
    long = raw.melt(id_vars=["model", "step"], value_vars=["train_loss", "val_loss"], var_name="metric")
    return sizes, long[long["value"].notna()]


def _name(model: str) -> str:
    return "gpt3-" + re.sub(r"\s+", "-", model)


def build(ctx: Context) -> Built:
    sizes, long = _readings(ctx)
    merged = long.groupby(["model", "step", "metric"], as_index=False, sort=True)["value"].mean()
    drops = [
        Drop(
            "gpt3",
            ctx.label(REPO, CURVES),
            len(long) - len(merged),
            "digitised points at an equal x averaged",
        )
    ]
    frame = rows(
        family="gpt3",
        model=merged["model"].map(_name),
        n_params=merged["model"].map(sizes).to_numpy(float),
        n_tokens=merged["step"].to_numpy(float) * TOKENS_PER_STEP_UNIT,
        metric=merged["metric"],
        value=merged["value"].to_numpy(float),
        unit=NATS,
        arch="dec",
        data="gpt3-mix",
        source=ctx.label(REPO, CURVES),
    )
    return Built(frame, drops)


def digitised_readings(*, sources=None, metric: str = "val_loss") -> pd.DataFrame:
    """Every digitised reading of one GPT-3 loss curve, as the paper fitted them (no averaging).

    Digitising a curve gives several readings at one x where the curve is steep or noisy; the collection
    averages them (one row per model, tokens and metric), while Choshen et al. (2024) fitted each
    reading as a point. Their Appendix A numbers depend on it, so the reproduction of that table uses
    these readings. Returns the fitting shape of :func:`scalinglaw.load_family`: family, model, n_params,
    n_tokens, loss, seed, step, flops, sorted by (n_params, model, n_tokens), readings at one x in file order.
    """
    if metric not in ("val_loss", "train_loss"):
        raise DataError(f"GPT-3 readings exist for 'val_loss' and 'train_loss', not {metric!r}")
    sizes, long = _readings(Context(sources))
    long = long[long["metric"] == metric]
    n_params = long["model"].map(sizes).to_numpy(float)
    n_tokens = long["step"].to_numpy(float) * TOKENS_PER_STEP_UNIT
    out = pd.DataFrame(
        {
            "family": "gpt3",
            "model": long["model"].map(_name).to_numpy(),
            "n_params": n_params,
            "n_tokens": n_tokens,
            "loss": long["value"].to_numpy(float),
            "seed": pd.array([pd.NA] * len(long), dtype="Int64"),
            "step": pd.array([pd.NA] * len(long), dtype="Int64"),
            "flops": 6.0 * n_params * n_tokens,
        }
    )
    return out.sort_values(["n_params", "model", "n_tokens"], kind="stable", ignore_index=True)


ADAPTER = Adapter("gpt3", FAMILIES, build)
