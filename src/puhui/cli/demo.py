"""``puhui demo``: the whole data spine on a small province, from nothing to a summary.

It chains the same commands a bank's engineers run one by one: simulate a province, ingest every
delivery into the lake, migrate and seed the operational store, and summarise what is there.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.rule import Rule

from puhui.cli import ingest, lake, simulate, store
from puhui.cli.context import console, current_settings


def demo(
    enterprises: Annotated[
        int, typer.Option("--enterprises", "-n", help="企业数 · firms in the demo province")
    ] = 5000,
    months: Annotated[int, typer.Option("--months", help="月数 · months of history")] = 36,
    seed: Annotated[int, typer.Option("--seed", help="随机种子 · seed")] = 20260601,
) -> None:
    """演示 · simulate a small province, ingest it, seed the store and print a summary."""
    settings = current_settings()
    incoming = settings.data_dir / "incoming" / "province"
    started = time.perf_counter()

    console.print(Rule("1 · 模拟省份 simulate a province"))
    simulate.simulate(
        enterprises=enterprises, months=months, seed=seed, end_month="2026-06", out=incoming
    )
    console.print(Rule("2 · 接入数据湖 ingest every source into the lake"))
    ingest.ingest_dir(directory=incoming)
    console.print(Rule("3 · 运营库 migrate and seed the operational store"))
    store.upgrade_command()
    store.seed_command(batch_size=5000)
    console.print(Rule("4 · 概览 summary"))
    lake.summary()
    console.print(
        f"\ndemo finished in {time.perf_counter() - started:,.0f} s; data in {settings.data_dir}. "
        'Try `.venv/bin/puhui lake query "select * from tax_monthly limit 5"`.'
    )
