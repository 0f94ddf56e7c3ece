"""``scalinglaw fit | predict | compare | allocate | calibrate``: the guide on the command line.

Each command parses its options, calls one function of :mod:`scalinglaw.guide` and renders the result: rich
tables (and a plot for ``fit``) by default, the result's ``to_dict()`` as JSON with ``--json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scalinglaw.exceptions import ScalingLawError
from scalinglaw.guide import defaults as D
from scalinglaw.guide.inputs import parse_size

console = Console()

# -- shared options ------------------------------------------------------------------------------------
RunsArg = Annotated[
    Path,
    typer.Argument(
        help="Runs: a CSV / Parquet / JSONL table, a W&B CSV export (or a folder of them), "
        "or a TensorBoard log folder."
    ),
]
TargetParams = Annotated[
    str | None, typer.Option("--target-params", help="Parameters of the model to predict, e.g. 7e9 or 7B.")
]
TargetTokens = Annotated[
    str | None,
    typer.Option("--target-tokens", help="Its training tokens, e.g. 1.4T (default 20 per parameter)."),
]
Json = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON (its to_dict()) instead of tables.")
]
ModelCol = Annotated[
    str | None, typer.Option("--model-col", help="Column naming the run (one run = one model).")
]
ParamsCol = Annotated[str | None, typer.Option("--params-col", help="Column of parameter counts.")]
TokensCol = Annotated[
    str | None, typer.Option("--tokens-col", help="Column of tokens seen at each checkpoint.")
]
LossCol = Annotated[str | None, typer.Option("--loss-col", help="Column of losses (nats per token).")]
StepCol = Annotated[str | None, typer.Option("--step-col", help="Column of optimizer steps.")]
ParamsTable = Annotated[
    Path | None,
    typer.Option("--params", help="Per-run table (CSV: model, n_params) when sizes are not in the data."),
]
BatchTokens = Annotated[
    str | None,
    typer.Option("--batch-tokens", help="Tokens per step: tokens = step x this when only steps are logged."),
]
Metric = Annotated[
    str | None,
    typer.Option("--metric", help="The loss metric / tag (W&B, TensorBoard) when several are logged."),
]
TokensMetric = Annotated[
    str | None, typer.Option("--tokens-metric", help="A metric / tag holding token counts.")
]
Perplexity = Annotated[
    bool, typer.Option("--perplexity", help="The loss column holds perplexities (converted with ln).")
]
Cut = Annotated[
    str,
    typer.Option(
        "--cut",
        help="Early cut: relative (each run: first 10B tokens, at most 20 %), "
        "absolute (the paper: <= 10B everywhere), none.",
    ),
]
CutTokens = Annotated[str, typer.Option("--cut-tokens", help="Absolute early cut in tokens.")]
CutFraction = Annotated[
    float, typer.Option("--cut-fraction", help="Relative early cut: fraction of each run.")
]
NoBorrow = Annotated[bool, typer.Option("--no-borrow", help="Never borrow parameters from the collection.")]
Draws = Annotated[int, typer.Option("--draws", help="Bootstrap refits (whole runs resampled).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the resampling.")]
SingleRun = Annotated[
    bool, typer.Option("--allow-single-run", help="Accept one run (paper §5: (A, alpha) borrowed).")
]
Sources = Annotated[
    Path | None,
    typer.Option(
        "--sources", help="Local mirror of the collection (for borrowing); same as $SCALINGLAW_SOURCES."
    ),
]


def number(text: str | None, name: str) -> float | None:
    """7e9, 7B, 1.4T -> float; a ScalingLawError naming the option otherwise."""
    if text is None:
        return None
    value = parse_size(text.strip())
    if not (math.isfinite(value) and value > 0):
        raise ScalingLawError(f"{name} {text!r} is not a positive number (e.g. 7e9 or 7B)")
    return value


def _read_options(
    model_col,
    params_col,
    tokens_col,
    loss_col,
    step_col,
    params,
    batch_tokens,
    metric,
    tokens_metric,
    perplexity,
):
    columns = {
        k: v
        for k, v in (
            ("model", model_col),
            ("n_params", params_col),
            ("n_tokens", tokens_col),
            ("loss", loss_col),
            ("step", step_col),
        )
        if v
    }
    out: dict[str, Any] = {"perplexity": perplexity}
    if columns:
        out["columns"] = columns
    if params is not None:
        out["params"] = params
    if batch_tokens is not None:
        out["batch_tokens"] = number(batch_tokens, "--batch-tokens")
    if metric:
        out["metric"] = metric
    if tokens_metric:
        out["tokens_metric"] = tokens_metric
    return out


def _emit(d: Any) -> None:
    typer.echo(json.dumps(d, indent=1))


# -- commands --------------------------------------------------------------------------------------------


def fit(
    runs: RunsArg,
    target_params: TargetParams = None,
    target_tokens: TargetTokens = None,
    json_out: Json = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Save the estimate (parameters, draws, settings, data hash) and the plot in this folder.",
        ),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Where to write the plot (PNG).")] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not write a plot.")] = False,
    model_col: ModelCol = None,
    params_col: ParamsCol = None,
    tokens_col: TokensCol = None,
    loss_col: LossCol = None,
    step_col: StepCol = None,
    params: ParamsTable = None,
    batch_tokens: BatchTokens = None,
    metric: Metric = None,
    tokens_metric: TokensMetric = None,
    perplexity: Perplexity = False,
    mode: Annotated[
        str,
        typer.Option("--mode", help="auto (free with >= 3 sizes, tied with 2, fixed with 1), tied or fixed."),
    ] = "auto",
    cut: Cut = D.EARLY_CUT,
    cut_tokens: CutTokens = "10B",
    cut_fraction: CutFraction = D.EARLY_CUT_FRACTION,
    no_borrow: NoBorrow = False,
    draws: Draws = D.DRAWS,
    seed: Seed = D.SEED,
    allow_single_run: SingleRun = False,
    sources: Sources = None,
) -> None:
    """Fit your runs with the guide's defaults and predict the target, with intervals and diagnostics.

    Example: scalinglaw fit runs.csv --target-params 7B --target-tokens 1.4T --out fit7b
    """
    from scalinglaw.guide.estimate import estimate
    from scalinglaw.guide.report import render_estimate, save_plot

    est = estimate(
        runs,
        target_params=number(target_params, "--target-params"),
        target_tokens=number(target_tokens, "--target-tokens"),
        mode=mode,
        cut=cut,
        cut_tokens=number(cut_tokens, "--cut-tokens") if cut_tokens not in ("0", "0.0") else 0.0,
        cut_fraction=cut_fraction,
        borrow=not no_borrow,
        draws=draws,
        seed=seed,
        allow_single_run=allow_single_run,
        sources=sources,
        **_read_options(
            model_col,
            params_col,
            tokens_col,
            loss_col,
            step_col,
            params,
            batch_tokens,
            metric,
            tokens_metric,
            perplexity,
        ),
    )
    written = []
    if out is not None:
        written.append(est.save(out))
    plot_path = plot or (out / "fit.png" if out is not None else None)
    if plot_path is None and not json_out:
        plot_path = Path(f"{Path(runs).name.split('.')[0] or 'runs'}-fit.png")
    if plot_path is not None and not no_plot:
        written.append(save_plot(est.plot(), plot_path))
    if json_out:
        _emit(est.to_dict())
        return
    render_estimate(est, console)
    for path in written:
        console.print(f"wrote {path}")


def predict(
    directory: Annotated[Path, typer.Argument(help="A folder written by `scalinglaw fit --out`.")],
    params: Annotated[str, typer.Option("--params", help="Parameters, e.g. 7e9 or 7B.")],
    tokens: Annotated[str, typer.Option("--tokens", help="Training tokens, e.g. 1.4T.")],
    level: Annotated[
        list[float] | None, typer.Option("--level", help="Interval level(s); default 0.8 and 0.95.")
    ] = None,
    json_out: Json = False,
) -> None:
    """Predict from a saved fit (same numbers as when it was made).

    Example: scalinglaw predict fit7b --params 13B --tokens 2T
    """
    from scalinglaw.guide.estimate import Estimate
    from scalinglaw.guide.report import prediction_table

    est = Estimate.load(directory)
    n, d = number(params, "--params"), number(tokens, "--tokens")
    pred = est.prediction(n, d, levels=tuple(level) if level else D.LEVELS)  # type: ignore[arg-type]
    pred["data_hash"] = est.data_hash
    if json_out:
        _emit(pred)
        return
    console.print(prediction_table(pred, f"Prediction from {directory} (data {est.data_hash[:12]})"))


def compare(
    runs_a: Annotated[Path, typer.Argument(help="Runs of family A.")],
    runs_b: Annotated[Path, typer.Argument(help="Runs of family B.")],
    target_params: Annotated[str, typer.Option("--target-params", help="Parameters of the target, e.g. 7B.")],
    target_tokens: Annotated[str, typer.Option("--target-tokens", help="Its training tokens, e.g. 1.4T.")],
    json_out: Json = False,
    model_col: ModelCol = None,
    params_col: ParamsCol = None,
    tokens_col: TokensCol = None,
    loss_col: LossCol = None,
    step_col: StepCol = None,
    batch_tokens: BatchTokens = None,
    metric: Metric = None,
    perplexity: Perplexity = False,
    no_borrow: NoBorrow = False,
    draws: Draws = D.DRAWS,
    seed: Seed = D.SEED,
    sources: Sources = None,
) -> None:
    """Which family is better at the target, by how much, and how sure (paired resampling).

    Example: scalinglaw compare adamw.csv lion.csv --target-params 7B --target-tokens 140B
    """
    from scalinglaw.guide.decide import compare as compare_fn
    from scalinglaw.guide.report import render_comparison

    c = compare_fn(
        runs_a,
        runs_b,
        target_params=number(target_params, "--target-params"),  # type: ignore[arg-type]
        target_tokens=number(target_tokens, "--target-tokens"),  # type: ignore[arg-type]
        names=(runs_a.name, runs_b.name),
        borrow=not no_borrow,
        draws=draws,
        seed=seed,
        sources=sources,
        **_read_options(
            model_col,
            params_col,
            tokens_col,
            loss_col,
            step_col,
            None,
            batch_tokens,
            metric,
            None,
            perplexity,
        ),
    )
    if json_out:
        _emit(c.to_dict())
        return
    render_comparison(c, console)


def allocate(
    fitted: Annotated[
        Path, typer.Argument(help="A folder written by `scalinglaw fit --out`, or runs to fit.")
    ],
    flops: Annotated[str, typer.Option("--flops", help="Compute budget C in FLOPs (C = 6 N D), e.g. 1e23.")],
    json_out: Json = False,
    draws: Draws = D.DRAWS,
    seed: Seed = D.SEED,
    sources: Sources = None,
) -> None:
    """The compute-optimal model size and tokens for a FLOP budget, from a fitted law, with intervals.

    Example: scalinglaw allocate fit7b --flops 1e23
    """
    from scalinglaw.guide.decide import allocate as allocate_fn
    from scalinglaw.guide.estimate import Estimate, estimate
    from scalinglaw.guide.report import render_allocation

    saved = (fitted.is_dir() and (fitted / "estimate.json").is_file()) or fitted.name == "estimate.json"
    est = Estimate.load(fitted) if saved else estimate(fitted, draws=draws, seed=seed, sources=sources)
    a = allocate_fn(est, number(flops, "--flops"))  # type: ignore[arg-type]
    if json_out:
        _emit(a.to_dict())
        return
    render_allocation(a, console)


def calibrate(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the README's markdown table.")] = False,
    json_out: Json = False,
    families: Annotated[
        str | None, typer.Option("--families", help="Comma-separated families (default: every usable one).")
    ] = None,
    draws: Draws = D.DRAWS,
    sources: Sources = None,
) -> None:
    """Coverage of the guide's intervals over the collection's families (held-out largest size).

    Example: scalinglaw calibrate --markdown
    """
    from scalinglaw.guide.calibration import calibrate as calibrate_fn
    from scalinglaw.guide.report import render_calibration

    names = [f.strip() for f in families.split(",") if f.strip()] if families else None
    cal = calibrate_fn(names, draws=draws, sources=sources)
    if markdown:
        typer.echo(cal.to_markdown(), nl=False)
    elif json_out:
        _emit(cal.to_dict())
    else:
        render_calibration(cal, console)


def register(app: typer.Typer) -> None:
    """Add the guide's commands at the top level of ``app``."""
    for command in (fit, predict, compare, allocate, calibrate):
        app.command(command.__name__)(command)
