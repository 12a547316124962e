"""``puhui users``: workbench logins linked to staff (add, reset a password, list, demo)."""

from __future__ import annotations

from typing import Annotated

import typer

from puhui.cli.context import console, current_settings
from puhui.cli.serve import print_demo_credentials

app = typer.Typer(no_args_is_help=True)


def _access():  # type: ignore[no-untyped-def]
    from puhui.api.services import AppServices

    return AppServices(current_settings())


def _password(prompted: str | None) -> str:
    if prompted:
        return prompted
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="用户名 · login name")],
    staff_id: Annotated[str, typer.Option("--staff", help="员工号 · staff id in the store")],
    password: Annotated[
        str | None, typer.Option("--password", help="密码 (prompted when omitted)")
    ] = None,
) -> None:
    """新增 · Create a login for a member of staff (role and branch come from the staff record)."""
    services = _access()
    try:
        services.access.add_user(username, staff_id, _password(password))
    finally:
        services.close()
    console.print(f"user {username} created for staff {staff_id}")


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="用户名 · login name")],
    password: Annotated[
        str | None, typer.Option("--password", help="密码 (prompted when omitted)")
    ] = None,
) -> None:
    """重置密码 · Set a new password, unlock the account and end its sessions."""
    services = _access()
    try:
        services.access.set_password(username, _password(password))
    finally:
        services.close()
    console.print(f"password of {username} reset; its sessions are ended")


@app.command("list")
def list_users() -> None:
    """列表 · The logins in the store."""
    services = _access()
    try:
        for name in services.access.usernames():
            console.print(name, highlight=False)
    finally:
        services.close()


@app.command("seed-demo")
def seed_demo() -> None:
    """演示账号 · One login per role with new random passwords, printed once (demos only)."""
    services = _access()
    try:
        print_demo_credentials(services.access.seed_demo_users())
    finally:
        services.close()
