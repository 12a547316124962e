"""企业月度面板 · per firm and month, what the sentinel reads from the monthly sources: data
farming (养数据) breaks, digital-radar cross-checks (数字雷达), authenticity and credit.

A pure transformation of Polars frames (the lake's monthly tables), so replay joins each
application to its firm's row for the month before it applied and real time keeps the latest
row per firm. The data-farming break compares the growth of money (declared revenue, invoices,
bank inflows: last 3 months over the 12 before) with the growth of activity (electricity,
insured headcount): farmed data moves the first and not the second. The "surprise" measures
put that growth in units of the firm's own month-to-month spread.
"""

from __future__ import annotations

import polars as pl

MONEY = {
    "tax_monthly": [
        "declared_revenue",
        "vat_paid",
        "invoices_issued_amount",
        "invoices_received_amount",
        "tax_arrears",
    ],
    "utility_monthly": ["electricity_kwh"],
    "social_monthly": ["insured_headcount", "arrears_amount"],
    "bank_account_monthly": ["inflow_amount", "payroll_amount"],
    "bureau_enterprise_monthly": [
        "lender_count",
        "loan_balance",
        "overdue_amount",
        "max_overdue_days",
        "non_performing_balance",
        "guarantee_balance",
        "ever_borrowed",
    ],
}
RENAME = {"social_monthly": {"arrears_amount": "social_arrears_amount"}}


def _ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b > 0).then(a / b).otherwise(None)


def firm_month_panel(tables: dict[str, pl.DataFrame], industries: pl.DataFrame) -> pl.DataFrame:
    """One row per (uscc, month) over every month any source covers; ``industries`` holds
    ``uscc, industry_code``. Columns are sentinel features as of that month's end."""
    months = pl.concat(
        [t.select("month") for t in tables.values() if t.height], how="vertical"
    ).unique()
    firms = industries.select("uscc")
    grid = firms.join(months, how="cross")
    for name, columns in MONEY.items():
        frame = tables.get(name)
        if frame is None or not frame.height:
            frame = pl.DataFrame(schema={"uscc": pl.Utf8, "month": pl.Date})
            for column in columns:
                frame = frame.with_columns(pl.lit(None, pl.Float64).alias(column))
        frame = frame.select(
            "uscc", "month", *[pl.col(c).cast(pl.Float64) for c in columns]
        ).rename(RENAME.get(name, {}))
        grid = grid.join(frame, on=["uscc", "month"], how="left")
    grid = grid.sort("uscc", "month").join(industries, on="uscc", how="left")

    def rolling(column: str, window: int) -> pl.Expr:
        return pl.col(column).rolling_mean(window, min_samples=1).over("uscc") * window

    def growth(column: str) -> pl.Expr:
        recent = pl.col(column).rolling_mean(3, min_samples=2).over("uscc")
        before = pl.col(column).rolling_mean(12, min_samples=6).shift(3).over("uscc")
        return _ratio(recent, before)

    grid = grid.with_columns(
        rev12=rolling("declared_revenue", 12),
        vat12=rolling("vat_paid", 12),
        inv12=rolling("invoices_issued_amount", 12),
        rec12=rolling("invoices_received_amount", 12),
        kwh12=rolling("electricity_kwh", 12),
        kwh3=rolling("electricity_kwh", 3),
        inflow12=rolling("inflow_amount", 12),
        payroll12=rolling("payroll_amount", 12),
        head12=pl.col("insured_headcount").rolling_mean(12, min_samples=1).over("uscc"),
        tax_rows12=pl.col("declared_revenue")
        .is_not_null()
        .cast(pl.Int32)
        .rolling_sum(12, min_samples=1)
        .over("uscc"),
        utility_rows12=pl.col("electricity_kwh")
        .is_not_null()
        .cast(pl.Int32)
        .rolling_sum(12, min_samples=1)
        .over("uscc"),
        farm_revenue_growth=growth("declared_revenue"),
        farm_invoice_growth=growth("invoices_issued_amount"),
        farm_inflow_growth=growth("inflow_amount"),
        farm_kwh_growth=growth("electricity_kwh"),
        farm_head_growth=growth("insured_headcount"),
        rise=(pl.col("declared_revenue").diff().over("uscc") > 0).fill_null(False),
    )
    grid = grid.with_columns(
        z_revenue=_surprise("declared_revenue"),
        z_invoice=_surprise("invoices_issued_amount"),
        z_kwh=_surprise("electricity_kwh"),
        z_head=_surprise("insured_headcount"),
    )
    money = pl.max_horizontal("farm_revenue_growth", "farm_invoice_growth", "farm_inflow_growth")
    activity = pl.max_horizontal("farm_kwh_growth", "farm_head_growth").fill_null(1.0)
    grid = grid.with_columns(
        farm_break=pl.when(money > 0)
        .then(money.log() - pl.max_horizontal(activity, pl.lit(0.05)).log())
        .otherwise(None),
        run=(~pl.col("rise")).cum_sum().over("uscc"),
        per_kwh=_ratio(pl.col("rev12"), pl.col("kwh12")),
        per_head=_ratio(pl.col("rev12"), pl.col("head12")),
        burden=_ratio(pl.col("vat12"), pl.col("rev12")),
    )
    grid = grid.with_columns(
        farm_rising_months=pl.col("rise").cast(pl.Float64).cum_sum().over("uscc", "run"),
        **{
            name: _ratio(pl.col(column), pl.col(column).median().over("industry_code", "month"))
            for name, column in (
                ("revenue_per_kwh_vs_industry", "per_kwh"),
                ("revenue_per_head_vs_industry", "per_head"),
                ("vat_burden_vs_industry", "burden"),
            )
        },
    )
    return grid.select(
        "uscc",
        "month",
        pl.col("insured_headcount"),
        pl.col("kwh3").alias("electricity_kwh_3m"),
        (pl.col("utility_rows12") > 0).alias("has_utilities"),
        pl.col("rev12").alias("declared_revenue_12m"),
        pl.col("inflow12").alias("inflow_12m"),
        (pl.col("tax_rows12") > 0).alias("has_tax_history"),
        pl.col("tax_arrears"),
        pl.col("social_arrears_amount").alias("social_arrears"),
        (pl.col("ever_borrowed") > 0).alias("ever_borrowed"),
        pl.col("lender_count").alias("ent_lender_count"),
        pl.col("overdue_amount").alias("ent_overdue_amount"),
        pl.col("max_overdue_days").alias("ent_max_overdue_days"),
        pl.col("non_performing_balance").alias("ent_npl_balance"),
        _ratio(pl.col("guarantee_balance"), pl.col("loan_balance")).alias("ent_guarantee_ratio"),
        _ratio(pl.col("rev12"), pl.col("inflow12")).alias("revenue_vs_inflow_12m"),
        _ratio(pl.col("inv12"), pl.col("rev12")).alias("invoice_vs_revenue_12m"),
        "revenue_per_kwh_vs_industry",
        "revenue_per_head_vs_industry",
        "vat_burden_vs_industry",
        _ratio(pl.col("payroll12"), pl.col("head12") * 12).alias("payroll_per_head"),
        _ratio(pl.col("rev12"), pl.col("rec12")).alias("revenue_vs_received_invoices"),
        "farm_revenue_growth",
        "farm_invoice_growth",
        "farm_inflow_growth",
        "farm_kwh_growth",
        "farm_head_growth",
        "farm_break",
        "farm_rising_months",
        pl.min_horizontal("z_revenue", "z_invoice").alias("farm_surprise"),
        (
            pl.min_horizontal("z_revenue", "z_invoice")
            - pl.max_horizontal("z_kwh", "z_head", pl.lit(0.0)).fill_null(0.0)
        ).alias("farm_surprise_gap"),
    )


def _surprise(column: str) -> pl.Expr:
    """How unusual the last 3 months are for this firm: the log growth over the 12 months
    before, in units of the firm's own month-to-month spread (a volatile firm jumps honestly)."""
    logged = (pl.col(column) + 1).log()
    recent = logged.rolling_mean(3, min_samples=2).over("uscc")
    before = logged.rolling_mean(12, min_samples=6).shift(3).over("uscc")
    spread = logged.rolling_std(12, min_samples=6).shift(3).over("uscc")
    return (recent - before) / (spread + 0.02)


def person_month_panel(monthly: pl.DataFrame) -> pl.DataFrame:
    """Personal credit per (person_id, month): overdue accounts and amount, worst status, cards."""
    return monthly.select(
        "person_id",
        "month",
        pl.col("overdue_accounts").cast(pl.Float64),
        pl.col("overdue_amount").cast(pl.Float64),
        pl.col("worst_status_24m").cast(pl.Float64),
        _ratio(pl.col("card_used").cast(pl.Float64), pl.col("card_limit").cast(pl.Float64)).alias(
            "card_utilisation"
        ),
    )
