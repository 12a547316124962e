"""``puhui schema``: list and document the canonical data model."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
