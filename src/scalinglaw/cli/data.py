"""``scalinglaw data``: build, list and inspect the collection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scalinglaw.data import build_report, describe_family, list_families, load_dataset
from scalinglaw.data.markdown import families_markdown

app = typer.Typer(help="Build, list and inspect the collection of training curves.", no_args_is_help=True)
console = Console()

SOURCES_HELP = "Local mirror of the upstream files (<owner>/<repo>/<path>); same as $SCALINGLAW_SOURCES."
SourcesOption = Annotated[Path | None, typer.Option("--sources", help=SOURCES_HELP)]


def _num(x: float) -> str:
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


@app.command()
def build(
    sources: SourcesOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a cached table exists.")] = False,
) -> None:
    """Build the long table (or load it from the cache) and print the build report."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("loading", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"building {name}")

        table = load_dataset(sources=sources, rebuild=force, progress=progress)
    report = build_report(sources=sources)
    out = Table(title=f"Collection: {len(table):,} rows, {table['model'].nunique():,} models")
    out.add_column("family")
    out.add_column("rows", justify="right")
    for fam, n in sorted(report.rows.items()):
        out.add_row(fam, f"{n:,}")
    console.print(out)
    drops = report.drops_frame()
    if len(drops):
        t = Table(title="Documented drops")
        for col in ("family", "reason", "rows", "files"):
            t.add_column(col, justify="right" if col in ("rows", "files") else "left")
        for r in drops.itertuples(index=False):
            t.add_row(r.family, r.reason, f"{r.rows:,}", str(r.files))
        console.print(t)
    console.print(f"built in {report.seconds:.1f} s")


@app.command()
def families(
    sources: SourcesOption = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the generated markdown table.")] = False,
) -> None:
    """One row per family: models, sizes, tokens, default metric, usability."""
    if markdown:
        typer.echo(families_markdown(sources=sources), nl=False)
        return
    fams = list_families(sources=sources)
    t = Table(title="Families")
    for col in ("family", "paper name", "models", "sizes", "tokens", "ckpts", "metric", "arch", "usable"):
        t.add_column(col)
    for r in fams.itertuples(index=False):
        t.add_row(
            r.family,
            r.paper_name or "-",
            str(r.n_models),
            f"{_num(r.min_params)}-{_num(r.max_params)}" if r.n_models else "-",
            f"{_num(r.min_tokens)}-{_num(r.max_tokens)}" if r.n_models else "-",
            str(r.n_checkpoints),
            r.metric,
            r.arch,
            "yes" if r.usable else "no",
        )
    console.print(t)


@app.command()
def show(
    family: Annotated[str, typer.Argument(help="Family name, e.g. gpt3 (see `scalinglaw data families`).")],
    sources: SourcesOption = None,
) -> None:
    """Summary of one family: its models, sizes, checkpoints and available metrics."""
    info = describe_family(family, sources=sources)
    fam = info["family"]
    console.print(f"[bold]{fam.name}[/] (paper: {fam.paper_name or '-'}): {fam.note}")
    console.print(
        f"arch {fam.arch}, data {fam.data}, {fam.kind}; default metric [bold]{fam.default_metric}[/]"
    )
    t = Table(title="Models (default metric)")
    for col in ("model", "params", "checkpoints", "tokens", "final"):
        t.add_column(col)
    for r in info["models"].itertuples(index=False):
        t.add_row(
            r.model,
            _num(r.n_params),
            str(r.checkpoints),
            f"{_num(r.min_tokens)}-{_num(r.max_tokens)}",
            f"{r.final:.4g}",
        )
    console.print(t)
    m = Table(title=f"Metrics ({len(info['metrics'])})")
    for col in ("metric", "unit", "rows", "models"):
        m.add_column(col)
    for r in info["metrics"].itertuples(index=False):
        m.add_row(r.metric, r.unit, str(r.rows), str(r.models))
    console.print(m)
