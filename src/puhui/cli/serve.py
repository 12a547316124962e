"""``puhui serve``: the API and the workbench on 127.0.0.1 (uvicorn).

``--seed-demo-users`` gives one login per role and prints their passwords: for demos only.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.errors import PuhuiError


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
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
        log_config=None,  # keep the JSON handler; uvicorn would install its own text format
    )


def print_demo_credentials(credentials: list) -> None:  # type: ignore[type-arg]
    table = Table(title="演示账号 · demo logins (for demos only)", title_justify="left")
    for column in ("username", "password", "role", "staff", "branch"):
        table.add_column(column)
    for item in credentials:
        table.add_row(item.username, item.password, item.role.value, item.staff_id, item.branch_id)
    console.print(table)
