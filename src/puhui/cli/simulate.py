"""``puhui simulate``: generate a synthetic Zhejiang-like province, one Parquet file per table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from puhui.cli.context import console, current_settings
from puhui.data.simulate import RealismReport, build_config, simulate_province
from puhui.data.simulate.realism import BARS

STAGE_LABELS = {
    "world": "世界 causal model",
    "firms": "企业数据源 firm sources",
    "persons": "个人征信 personal credit",
    "books": "账簿与申请 books and applications",
    "realism": "真实性 realism report",
}


def simulate(
    enterprises: Annotated[
        int, typer.Option("--enterprises", "-n", help="企业数 · firms (≥ 100)")
    ] = 10_000,
    months: Annotated[int, typer.Option("--months", help="月数 · months of history (≥ 13)")] = 36,
    seed: Annotated[
        int, typer.Option("--seed", help="随机种子 · same seed, same province")
    ] = 20260601,
    end_month: Annotated[
        str, typer.Option("--end-month", help="最后月份 · last month covered, YYYY-MM")
    ] = "2026-06",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="输出目录 · output folder (default <data_dir>/incoming/province)"
        ),
    ] = None,
) -> None:
    """模拟省份 · generate a synthetic Zhejiang-like province: every table, truth, realism."""
    config = build_config(enterprises=enterprises, months=months, seed=seed, end_month=end_month)
    target = out if out is not None else current_settings().data_dir / "incoming" / "province"
    console.print(
        f"simulating {config.enterprises:,} enterprises × {config.months} months "
        f"to {config.end_month}, seed {config.seed} → {target}"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        report = simulate_province(config, target, update)

    rows = Table(title=f"表 tables written to {target}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in report.row_counts.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    console.print(realism_table(report.realism))
    timing = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in report.seconds.items())
    manifest = target / "province.json"
    console.print(f"done in {sum(report.seconds.values()):.1f}s ({timing}); manifest {manifest}")


def realism_table(realism: RealismReport) -> Table:
    """The realism figures with their bars, one row each."""
    table = Table(title="真实性 realism report")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("bar")
    table.add_column("ok")

    def bar(name: str) -> tuple[str, str]:
        if name not in BARS:
            return "", ""
        lo, hi = BARS[name]
        return f"{lo:g} – {hi:g}", "✓" if realism.bars[name] else "✗"

    mix = ", ".join(f"{k} {v:.1%}" for k, v in realism.size_mix.items())
    table.add_row("firms", f"{realism.firms:,}", "", "")
    table.add_row("size mix", mix, "", "")
    table.add_row(
        "首贷户 first-loan candidates", f"{realism.first_loan_candidate_share:.1%}", "", ""
    )
    table.add_row("borrowers (at a year start)", f"{realism.borrowers:,}", "", "")
    table.add_row(
        "borrower annual default rate",
        f"{realism.borrower_default_rate:.2%}",
        *bar("borrower_default_rate"),
    )
    table.add_row("applications", f"{realism.applications:,}", "", "")
    table.add_row(
        "application fraud rate",
        f"{realism.application_fraud_rate:.2%}",
        *bar("application_fraud_rate"),
    )
    table.add_row(
        "scored firm-months (defaults)",
        f"{realism.scored_firm_months:,} ({realism.scored_defaults:,})",
        "",
        "",
    )
    table.add_row(
        f"best single feature ({realism.best_single_feature})",
        f"{realism.best_single_feature_auc:.3f}",
        *bar("best_single_feature_auc"),
    )
    table.add_row(
        "gradient boosting AUC (next 12 months)", f"{realism.model_auc:.3f}", *bar("model_auc")
    )
    table.add_row("logistic regression AUC", f"{realism.logistic_auc:.3f}", "", "")
    return table
