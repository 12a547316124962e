"""``puhui``: the command-line entry point.

Each capability contributes its sub-commands here. Failures print one line and exit non-zero.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from puhui import __version__
from puhui.cli.context import console, err_console, set_settings
from puhui.errors import PuhuiError
from puhui.settings import load_settings

app = typer.Typer(
    name="puhui",
    help="普惠 puhui: data spine, models, origination, sentinel and alarm for SME lending.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"puhui {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", help="数据目录 · data folder (default ./puhui-data or PUHUI_DATA_DIR)"
        ),
    ] = None,
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store-url", help="运营库 · SQLAlchemy URL (default SQLite in the data folder)"
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """普惠 puhui command line."""
    set_settings(load_settings(data_dir=data_dir, store_url=store_url))


def run(argv: list[str] | None = None) -> int:
    """Run the app; puhui's own errors become one line on stderr and a non-zero exit code."""
    try:
        app(args=argv, prog_name="puhui")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except PuhuiError as error:
        err_console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("error: interrupted")
        return 130
    return 0


def entry_point() -> None:
    """Console-script entry: ``puhui ...``."""
    sys.exit(run())


def _register_subcommands() -> None:
    """Attach each capability's commands; each lives in its own module under ``puhui.cli``."""
    from puhui.cli import (
        alarm,
        bureau,
        consent,
        demo,
        features,
        ingest,
        lake,
        marketing,
        model,
        node,
        operations,
        origination,
        profile,
        schema,
        sentinel,
        serve,
        simulate,
        store,
        users,
    )

    app.command("demo")(demo.demo)
    app.command("serve")(serve.serve)
    app.command("simulate")(simulate.simulate)
    app.command("ingest")(ingest.ingest)
    app.command("ingest-dir")(ingest.ingest_dir)
    app.add_typer(
        lake.app, name="lake", help="数据湖 · the Parquet lake: tables, batches, queries."
    )
    app.add_typer(schema.app, name="schema", help="数据模型 · the canonical data model.")
    app.add_typer(
        store.app, name="store", help="运营库 · operational store: migrations and seeding."
    )
    app.add_typer(features.app, name="features", help="特征库 · point-in-time feature snapshots.")
    app.command("profile")(profile.profile)
    app.add_typer(
        model.app, name="model", help="模型 · credit models: registry, reports, monitoring."
    )
    app.add_typer(
        consent.app, name="consent", help="征信授权 · signed consents: grant, revoke, verify."
    )
    app.add_typer(
        bureau.app, name="bureau", help="征信查询 · bureau queries via the consent gateway."
    )
    app.add_typer(node.app, name="node", help="联合建模 · joint-modelling nodes: PSI, LR, scoring.")
    app.add_typer(origination.app)
    app.add_typer(users.app, name="users", help="用户 · workbench logins.")
    app.add_typer(
        sentinel.app, name="sentinel", help="哨兵 · pre-loan anti-fraud: strategies, replay."
    )
    app.add_typer(
        marketing.app, name="marketing", help="精准营销 · target lists, allocation, feedback."
    )
    app.add_typer(alarm.app, name="alarm", help="贷后预警 · daily scans, warnings, tasks.")
    app.add_typer(operations.scheduler_app, name="scheduler", help="调度 · scheduled jobs.")
    app.add_typer(operations.ops_app, name="ops", help="运维 · backup, retention, erasure, keys.")


_register_subcommands()
