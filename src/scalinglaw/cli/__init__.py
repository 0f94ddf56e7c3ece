"""The ``scalinglaw`` command line.

Each command parses its options, calls one library function and renders the result.
One error boundary: :class:`~scalinglaw.exceptions.ScalingLawError` becomes a single
``Error: ...`` line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from scalinglaw import __version__
from scalinglaw.exceptions import ScalingLawError

app = typer.Typer(
    name="scalinglaw",
    help="Fit, evaluate and reproduce scaling laws of language models.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scalinglaw {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Fit, evaluate and reproduce scaling laws of language models."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (2 for a handled error)."""
    try:
        app(args=argv, standalone_mode=False)
    except ScalingLawError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("Aborted.")
        return 1
    except typer.TyperException as exc:  # usage errors (unknown option, bad value): the user's, not bugs
        exc.show()  # type: ignore[attr-defined]
        return 2
    return 0


def run() -> None:  # pragma: no cover - the console-script entry point
    sys.exit(main())


from scalinglaw.cli import data as _data  # noqa: E402

app.add_typer(_data.app, name="data")

from scalinglaw.cli import reproduce as _reproduce  # noqa: E402

_reproduce.register(app)

from scalinglaw.cli import guide as _guide  # noqa: E402

_guide.register(app)
