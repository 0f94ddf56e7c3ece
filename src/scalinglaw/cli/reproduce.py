"""``scalinglaw reproduce``: every experiment of the paper, its figures and a report, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from scalinglaw.cli.data import SourcesOption
from scalinglaw.experiments import EXPERIMENTS
from scalinglaw.report import build

console = Console()


def reproduce(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for results/, figures/, report.md, run.json.")
    ],
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", help=f"Run only these (repeatable): {', '.join(EXPERIMENTS)}."),
    ] = None,
    family: Annotated[
        list[str] | None,
        typer.Option("--family", "-f", help="Only these families (repeatable); default: all usable."),
    ] = None,
    figures: Annotated[
        str, typer.Option("--figures", help="'paper' (the paper's figures) or 'none'.")
    ] = "paper",
    sources: SourcesOption = None,
) -> None:
    """Run the paper's experiments on the collection; write results, figures and report.md to OUT."""
    if figures not in ("paper", "none"):
        raise typer.BadParameter("use 'paper' or 'none'", param_hint="--figures")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:  # fmt: skip
        task = bar.add_task("starting", total=None)
        done = build(
            out, experiments=experiment, families=family, sources=sources, figures_=figures,
            progress=lambda what: bar.update(task, description=what),
        )  # fmt: skip
    console.print(
        f"[bold]{done.n_fits:,} laws fitted[/] over {done.results['family'].nunique()} families and "
        f"{done.results['experiment'].nunique()} experiments in [bold]{done.seconds:.1f} s[/]; "
        f"report: {done.out / 'report.md'}"
    )


def register(app: typer.Typer) -> None:
    """Add ``reproduce`` to the top-level command line."""
    app.command("reproduce")(reproduce)
