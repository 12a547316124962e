"""``puhui schema``: list and document the canonical data model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from puhui.cli.context import console
from puhui.data.schema import load_catalog
from puhui.data.schema_docs import render_catalog

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_tables() -> None:
    """列出数据表 · list every source and table with its grain and key."""
    catalog = load_catalog()
    table = Table(title="数据模型 canonical data model")
    for column in ("source", "table", "中文", "grain", "key", "fields"):
        table.add_column(column, no_wrap=column in {"source", "table"})
    for spec in catalog.tables:
        table.add_row(
            spec.source, spec.name, spec.zh, spec.grain, ", ".join(spec.key), str(len(spec.fields))
        )
    console.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Table name, e.g. tax_monthly")]) -> None:
    """查看数据表 · show one table's fields, types and checks."""
    spec = load_catalog().table(name)
    table = Table(title=f"{spec.name} — {spec.zh}")
    for column in ("field", "type", "中文", "required", "check / values / range"):
        table.add_column(column)
    for field in spec.fields:
        rule = field.check or (", ".join(field.values) if field.values else "")
        if field.min is not None or field.max is not None:
            low = "" if field.min is None else f"{field.min:g}"
            high = "" if field.max is None else f"{field.max:g}"
            rule = f"[{low}, {high}]"
        table.add_row(field.name, field.type, field.zh, "yes" if field.required else "", rule)
    console.print(table)


@app.command("docs")
def docs(
    out: Annotated[Path, typer.Option("--out", help="Where to write the Markdown.")] = Path(
        "docs/DATA_MODEL.md"
    ),
) -> None:
    """生成文档 · write the data-model documentation (docs/DATA_MODEL.md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_catalog(load_catalog()), encoding="utf-8")
    console.print(f"wrote {out}")
