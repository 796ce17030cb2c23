"""The `spector` command: a Typer app assembled from each stage's own cli.py."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from spector import __version__
from spector.cli.common import Groups, err_console
from spector.errors import UserError

__all__ = ["build_app", "main", "run"]


def _version(value: bool) -> None:
    if value:
        print(f"spector {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Spector: collect darknet markets, extract, link vendors, follow the money."""


def build_app() -> typer.Typer:
    """The root app with every stage's commands registered."""
    app = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback()(_root)
    groups = Groups(
        import_=typer.Typer(help="Import data into the workspace.", no_args_is_help=True),
        export=typer.Typer(help="Export the workspace.", no_args_is_help=True),
        selectors=typer.Typer(help="Selector kinds and values.", no_args_is_help=True),
    )
    from spector.cases import cli as cases_cli
    from spector.chain import cli as chain_cli
    from spector.cli import (
        _demo_cases,  # noqa: F401  (registers [I]'s demo step)
        _demo_resolve,  # noqa: F401  (registers [H]'s demo step)
        _demo_web,  # noqa: F401  (registers [J]'s demo step)
    )
    from spector.cli._demo import demo
    from spector.collect import cli as collect_cli
    from spector.economics import cli as econ_cli
    from spector.extract import cli as extract_cli
    from spector.model import cli as model_cli
    from spector.report import cli as report_cli
    from spector.resolve import cli as resolve_cli
    from spector.sim import cli as sim_cli
    from spector.store import cli as store_cli
    from spector.web import cli as web_cli

    stages = (store_cli, model_cli, sim_cli, collect_cli, extract_cli, chain_cli, econ_cli)
    for stage in (*stages, resolve_cli, cases_cli, report_cli, web_cli):
        stage.register(app, groups)
    app.command()(demo)
    app.add_typer(groups.import_, name="import")
    app.add_typer(groups.export, name="export")
    app.add_typer(groups.selectors, name="selectors")
    return app


_BUILT: list[tuple[object, Any]] = []  # (factory, its click command): built once per process


def _command() -> Any:
    """The click command of ``build_app()``, converted once (typer's conversion of the whole
    app takes a third of a second; in-process callers such as the tests call ``main`` many
    times). A replaced ``build_app`` (tests) gets its own command."""
    from typer.main import get_command

    factory = build_app
    if not _BUILT or _BUILT[0][0] is not factory:
        _BUILT[:] = [(factory, get_command(factory()))]
    return _BUILT[0][1]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI; user errors print one line ``error: ...`` and exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # Without standalone mode click returns the code of a `typer.Exit(code)` (a
        # finding such as `cases audit verify` exits 1) instead of raising it.
        code = _command().main(args=args, prog_name="spector", standalone_mode=False)
    except UserError as exc:
        if debug:
            raise
        err_console.print(f"error: {exc.one_line()}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("error: interrupted", markup=False)
        return 130
    except Exception as exc:
        # Typer vendors click privately, so its exceptions are recognised by class name.
        if _is(exc, "Exit"):
            return int(getattr(exc, "exit_code", 0))
        if _is(exc, "Abort"):
            err_console.print("error: interrupted", markup=False)
            return 130
        if _is(exc, "NoArgsIsHelpError"):
            return 0  # the help was printed
        if _is(exc, "UsageError"):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = exc.format_message()  # type: ignore[attr-defined]
            err_console.print(
                f"error: {message}{hint}", markup=False, highlight=False, soft_wrap=True
            )
            return 2
        if debug:
            raise
        err_console.print(
            f"error: internal error {type(exc).__name__}: {exc} (rerun with --debug for the "
            "traceback and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _is(exc: BaseException, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
