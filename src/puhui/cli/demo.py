"""``puhui demo``: the whole data spine on a small province, from nothing to a summary.

It chains the same commands a bank's engineers run one by one: simulate a province, ingest every
delivery into the lake, migrate and seed the operational store, and summarise what is there.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.rule import Rule

from puhui.cli import features, ingest, lake, simulate, store
from puhui.cli import profile as profile_command
from puhui.cli.alarm import demo_alarm
from puhui.cli.consent import demo_authorization
from puhui.cli.context import console, current_settings
from puhui.cli.marketing import demo_marketing
from puhui.cli.model import demo_models
from puhui.cli.operations import demo_operations
from puhui.cli.origination import demo_origination
from puhui.cli.sentinel import demo_sentinel
from puhui.data.lake import Lake
from puhui.federated.demo import demo_federated

DEMO_END_MONTH = "2026-06"
DEMO_AS_OF = "2026-07-01"  # the day after the province's last month closes
# Monthly snapshots for training: from a year into the history (full 12-month windows) to a year
# before its end (12-month outcomes matured).
TRAINING_SNAPSHOTS = ("2024-07", "2025-06")


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
        enterprises=enterprises, months=months, seed=seed, end_month=DEMO_END_MONTH, out=incoming
    )
    console.print(Rule("2 · 接入数据湖 ingest every source into the lake"))
    ingest.ingest_dir(directory=incoming)
    console.print(Rule("3 · 运营库 migrate and seed the operational store"))
    store.upgrade_command()
    store.seed_command(batch_size=5000)
    console.print(Rule("4 · 概览 summary"))
    lake.summary()
    console.print(Rule("5 · 特征库 point-in-time features"))
    features.build(as_of=DEMO_AS_OF, engine="duckdb", force=False)
    console.print(Rule("6 · 企业画像 one firm's 360 profile"))
    profile_command.profile(uscc=_showcase_firm(settings.lake_dir), as_of=DEMO_AS_OF, as_json=False)
    console.print(Rule("7 · 月度快照与模型 monthly snapshots, scorecard and challenger"))
    features.snapshots(
        start=TRAINING_SNAPSHOTS[0], end=TRAINING_SNAPSHOTS[1], engine="duckdb", force=False
    )
    demo_models(settings, console)
    console.print(
        Rule("8 · 联合建模 joint model with the government platform (PSI + federated LR)")
    )
    demo_federated(settings, console)
    console.print(Rule("9 · 征信授权 an authorized bureau query and a refused one"))
    demo_authorization(settings, console)
    console.print(
        Rule("10 · 反欺诈哨兵 sentinel: strategies, risk models, blacklists, fraud rings")
    )
    demo_sentinel(settings, console)
    console.print(Rule("11 · 线上进件 applications decided by product, limit and price"))
    demo_origination(settings, console)
    console.print(Rule("12 · 贷后预警 a month of daily alarm scans, warnings and tasks"))
    demo_alarm(settings, console)
    console.print(Rule("13 · 精准营销 target lists, screening, allocation to managers"))
    demo_marketing(settings, console)
    console.print(Rule("14 · 运维 scheduled jobs, health, metrics and a store backup"))
    demo_operations(settings, console)
    console.print(
        f"\ndemo finished in {time.perf_counter() - started:,.0f} s; data in {settings.data_dir}. "
        "Next: `.venv/bin/puhui serve --seed-demo-users` (what `make demo` runs) for the "
        "workbench."
    )


def _showcase_firm(lake_dir) -> str:
    """A firm worth showing: a borrower of the bank with the most e-invoiced revenue."""
    connection = Lake(lake_dir).connect()
    row = connection.execute(
        "select t.uscc from tax_monthly t join bank_loan l using (uscc) "
        "group by t.uscc order by sum(t.invoices_issued_amount) desc limit 1"
    ).fetchone()
    if row is None:  # a province without loans: any registered firm
        row = connection.execute("select uscc from reg_enterprise limit 1").fetchone()
    return row[0]
