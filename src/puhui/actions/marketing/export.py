"""Per-manager lists as files (名单导出): one CSV (UTF-8 with BOM, so Excel opens the Chinese
correctly) and one Excel workbook (xlsxwriter) per account manager, best prospect first."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from puhui.data.store.marketing_tables import MarketingAssignment, MarketingProspect
from puhui.decisions.marketing.spec import MarketingConfig
from puhui.decisions.products.spec import ProductCatalog

COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "排名 rank"),
    ("uscc", "统一社会信用代码 USCC"),
    ("name", "企业名称 name"),
    ("themes", "主题名单 themes"),
    ("first_loan", "首贷户 first loan"),
    ("product", "推荐产品 product"),
    ("limit", "参考额度(元) indicative limit"),
    ("rate_pct", "参考年利率(%) indicative rate"),
    ("expected_value", "期望价值(元/年) expected value"),
    ("outlet_id", "网点 outlet"),
    ("latest_outcome", "最新结果 latest outcome"),
)


@dataclass(frozen=True)
class ExportedList:
    staff_id: str
    prospects: int
    csv_path: Path
    xlsx_path: Path


def manager_rows(
    session: Session,
    run_id: str,
    config: MarketingConfig,
    catalog: ProductCatalog,
    staff_id: str | None = None,
) -> dict[str, list[dict[str, object]]]:
    """Each manager's assigned prospects as export rows, best first."""
    query = (
        select(MarketingAssignment, MarketingProspect)
        .join(
            MarketingProspect,
            (MarketingProspect.run_id == MarketingAssignment.run_id)
            & (MarketingProspect.uscc == MarketingAssignment.uscc),
        )
        .where(MarketingAssignment.run_id == run_id)
        .order_by(MarketingAssignment.staff_id, MarketingProspect.rank)
    )
    if staff_id is not None:
        query = query.where(MarketingAssignment.staff_id == staff_id)
    themes = {t.code: t.zh for t in config.themes}
    products = {p.code: p.zh for p in catalog.products}
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for assignment, prospect in session.execute(query):
        out[assignment.staff_id].append(
            {
                "rank": prospect.rank,
                "uscc": prospect.uscc,
                "name": prospect.name,
                "themes": "、".join(themes.get(t, t) for t in prospect.themes.split(",") if t),
                "first_loan": "是" if prospect.first_loan else "否",
                "product": products.get(prospect.product_code, prospect.product_code),
                "limit": float(prospect.offer_limit),
                "rate_pct": round(prospect.rate_bp / 100, 2),
                "expected_value": float(assignment.expected_value),
                "outlet_id": assignment.outlet_id,
                "latest_outcome": assignment.latest_outcome or "",
            }
        )
    return dict(out)


def write_lists(
    rows_by_manager: dict[str, list[dict[str, object]]], folder: Path
) -> list[ExportedList]:
    """``<folder>/<staff_id>.csv`` and ``.xlsx`` for every manager."""
    import xlsxwriter

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    headers = [title for _, title in COLUMNS]
    for staff_id, rows in sorted(rows_by_manager.items()):
        csv_path = folder / f"{staff_id}.csv"
        with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            for row in rows:
                writer.writerow([row[key] for key, _ in COLUMNS])
        xlsx_path = folder / f"{staff_id}.xlsx"
        workbook = xlsxwriter.Workbook(str(xlsx_path))
        try:
            sheet = workbook.add_worksheet("营销名单")
            bold = workbook.add_format({"bold": True})
            money = workbook.add_format({"num_format": "#,##0"})
            sheet.write_row(0, 0, headers, bold)
            for i, row in enumerate(rows, start=1):
                for j, (key, _) in enumerate(COLUMNS):
                    value = row[key]
                    if key in {"limit", "expected_value"}:
                        sheet.write_number(i, j, float(value), money)  # type: ignore[arg-type]
                    else:
                        sheet.write(i, j, value)
            sheet.freeze_panes(1, 0)
            sheet.set_column(0, len(COLUMNS) - 1, 16)
        finally:
            workbook.close()
        written.append(ExportedList(staff_id, len(rows), csv_path, xlsx_path))
    return written
