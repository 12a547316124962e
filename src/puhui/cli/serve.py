"""``puhui serve``: the API and the workbench on 127.0.0.1 (uvicorn).

``--seed-demo-users`` gives one login per role and prints their passwords: for demos only.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.errors import PuhuiError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from puhui.settings import Settings


class ServeError(PuhuiError):
    """The server cannot start: the store is not ready or the address is not allowed."""


def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="端口 · TCP port")] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="地址 · listen address (default 127.0.0.1; put a TLS proxy in front for more)",
        ),
    ] = "127.0.0.1",
    seed_demo_users: Annotated[
        bool,
        typer.Option(
            "--seed-demo-users",
            help="演示账号 · create or reset one demo login per role and print the passwords",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help=(
                "进程数 · worker processes, each on its own SO_REUSEPORT socket "
                f"(default 1; this machine has {os.cpu_count()} CPUs)"
            ),
        ),
    ] = 1,
) -> None:
    """服务 · Serve the API (OpenAPI at /docs) and the workbench pages."""
    import uvicorn

    from puhui.api import create_app
    from puhui.api.services import AppServices
    from puhui.observability.logging import configure_logging

    settings = current_settings()
    services = AppServices(settings)
    try:
        if seed_demo_users:
            print_demo_credentials(services.access.seed_demo_users())
        else:
            services.sessions  # noqa: B018 (fail before serving when the store is not migrated)
    finally:
        services.close()
    console.print(f"puhui serving on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    # JSON logs with the request id, identity and phone numbers masked (docs/OPERATIONS.md).
    configure_logging(settings.log_level, root=True)
    if workers > 1:
        from puhui.api.workers import serve_workers

        console.print(f"{workers} worker processes")
        status = serve_workers(
            functools.partial(worker_app, settings),
            workers,
            host,
            port,
            **uvicorn_options(settings),
        )
        raise typer.Exit(status)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The same server settings for one process and for each worker of ``--workers``."""
    return {
        "log_level": settings.log_level.lower(),
        "proxy_headers": False,
        "server_header": False,
        "log_config": None,  # keep the JSON handler; uvicorn would install its own text format
    }


def worker_app(settings: Settings) -> FastAPI:
    """One worker process's application (``--workers``): a spawned process starts with no
    logging configured, so it sets up the JSON logs before building the app."""
    from puhui.api import create_app
    from puhui.observability.logging import configure_logging

    configure_logging(settings.log_level, root=True)
    return create_app(settings)


def print_demo_credentials(credentials: list) -> None:  # type: ignore[type-arg]
    table = Table(title="演示账号 · demo logins (for demos only)", title_justify="left")
    for column in ("username", "password", "role", "staff", "branch"):
        table.add_column(column)
    for item in credentials:
        table.add_row(item.username, item.password, item.role.value, item.staff_id, item.branch_id)
    console.print(table)
