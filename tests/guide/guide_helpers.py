"""Helpers for the guide's tests: small runs written in every input format (import as ``guide_helpers``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaw as sl


def small_runs(sizes=(1e8, 2e8, 4e8, 8e8, 1.6e9), checkpoints=8, seed=0, run_noise=0.0, noise=0.005, **kw):
    """Simulated runs with names that carry their size (``sim-100m``) and a step column (2M tokens/step)."""
    runs = sl.simulate.family(
        sizes=sizes, checkpoints=checkpoints, seed=seed, run_noise=run_noise, noise=noise, **kw
    )
    runs["model"] = [f"sim-{n / 1e6:g}m" for n in runs["n_params"]]
    runs["step"] = (runs["n_tokens"] / 2**21).round().astype(int)
    runs["n_tokens"] = runs["step"] * 2.0**21
    return runs[["model", "n_params", "n_tokens", "step", "loss"]]


def write_wandb(runs: pd.DataFrame, folder: Path, *, with_tokens: bool = True) -> Path:
    """One W&B "Export CSV" per panel (loss, and tokens if asked), as the W&B UI writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    panels = {"train/loss": "loss"} | ({"tokens": "n_tokens"} if with_tokens else {})
    for metric, column in panels.items():
        wide = runs.pivot_table(index="step", columns="model", values=column)
        out = pd.DataFrame({"Step": wide.index})
        for model in wide.columns:
            out[f"{model} - {metric}"] = wide[model].to_numpy()
            out[f"{model} - {metric}__MIN"] = wide[model].to_numpy()
            out[f"{model} - {metric}__MAX"] = wide[model].to_numpy()
        out.to_csv(folder / f"{metric.replace('/', '_')}.csv", index=False)
    return folder


def write_tensorboard(runs: pd.DataFrame, folder: Path, *, tag: str = "eval/loss") -> Path:
    """One subfolder of event files per run, written with TensorBoard's own writer."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for model, g in runs.groupby("model", sort=False):
        writer = EventFileWriter(str(folder / model))
        for step, loss in zip(g["step"], g["loss"], strict=True):
            value = summary_pb2.Summary.Value(tag=tag, simple_value=float(loss))
            event = event_pb2.Event(step=int(step), wall_time=1.0, summary=summary_pb2.Summary(value=[value]))
            writer.add_event(event)
        writer.close()
    return folder


def close(a, b, rtol=1e-12):
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=0)
