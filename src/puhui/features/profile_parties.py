"""关联方 · The related parties of one firm, read from the lake as of a date, personal data masked.

The registry tables (``reg_*``) are snapshots: the latest delivery wins, so shareholders and the
legal representative are today's; firms founded on or after the profile date are left out.
Supply-chain links and invoice counterparties respect their dates and reporting lags.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

from puhui.data.identifiers import mask_id_number
from puhui.data.lake import Lake
from puhui.data.lake.errors import TableNotInLakeError
from puhui.features.profile_schema import (
    CoreEnterprise,
    Counterparty,
    Person,
    RelatedFirm,
    RelatedParties,
    Shareholder,
)

TOP_COUNTERPARTIES = 5
MAX_RELATED_FIRMS = 20


def mask_name(name: str) -> str:
    """Keep the surname (the first character), mask the rest: 张三 → 张*, 欧阳明华 → 欧***."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def _scan(lake: Lake, table: str) -> pl.LazyFrame | None:
    try:
        return lake.scan(table)
    except TableNotInLakeError:
        return None  # a source the bank does not receive yet: no parties from it


def _age_years(birth: date | None, as_of: date) -> float | None:
    return None if birth is None else round((as_of - birth).days / 365.25, 1)


def related_parties(
    lake: Lake, firm: Mapping[str, object], as_of: date, lags: Mapping[str, int]
) -> RelatedParties:
    """Legal representative, shareholders, sibling firms, core enterprises, top counterparties."""
    uscc = str(firm["uscc"])
    legal_rep_id = firm.get("legal_rep_id")
    people = _scan(lake, "reg_person")
    return RelatedParties(
        legal_representative=_legal_representative(people, legal_rep_id, as_of),
        shareholders=_shareholders(lake, people, uscc),
        firms_sharing_legal_rep=_siblings(lake, uscc, legal_rep_id, as_of),
        core_enterprises=_core_enterprises(lake, uscc, as_of),
        top_customers=_counterparties(lake, uscc, as_of, lags, "sale"),
        top_suppliers=_counterparties(lake, uscc, as_of, lags, "purchase"),
    )


def _legal_representative(
    people: pl.LazyFrame | None, person_id: object, as_of: date
) -> Person | None:
    if not isinstance(person_id, str):
        return None
    row = None
    if people is not None:
        found = people.filter(pl.col("person_id") == person_id).collect()
        row = found.row(0, named=True) if found.height else None
    return Person(
        role="法定代表人 · legal representative",
        name=mask_name(row["name"]) if row and row["name"] else "—",
        id_number=mask_id_number(person_id),
        age_years=_age_years(row["birth_date"], as_of) if row else None,
    )


def _shareholders(lake: Lake, people: pl.LazyFrame | None, uscc: str) -> list[Shareholder]:
    holders = _scan(lake, "reg_shareholder")
    if holders is None:
        return []
    rows = (
        holders.filter(pl.col("uscc") == uscc)
        .sort("share_ratio", descending=True, nulls_last=True)
        .collect()
    )
    ids = rows["holder_id"].to_list()
    names: dict[str, str] = {}
    if people is not None and ids:
        found = people.filter(pl.col("person_id").is_in(ids)).select("person_id", "name").collect()
        names.update(zip(found["person_id"], found["name"], strict=True))
    firms = _scan(lake, "reg_enterprise")
    if firms is not None and ids:
        found = firms.filter(pl.col("uscc").is_in(ids)).select("uscc", "name").collect()
        names.update(zip(found["uscc"], found["name"], strict=True))
    result = []
    for row in rows.iter_rows(named=True):
        holder_id, person = row["holder_id"], row["holder_type"] == "person"
        name = names.get(holder_id)
        result.append(
            Shareholder(
                holder_type=row["holder_type"],
                holder_id=mask_id_number(holder_id) if person else holder_id,
                name=mask_name(name) if person and name else name,
                share_ratio=row["share_ratio"],
            )
        )
    return result


def _siblings(lake: Lake, uscc: str, person_id: object, as_of: date) -> list[RelatedFirm]:
    firms = _scan(lake, "reg_enterprise")
    if firms is None or not isinstance(person_id, str):
        return []
    rows = (
        firms.filter(
            (pl.col("legal_rep_id") == person_id)
            & (pl.col("uscc") != uscc)
            & (pl.col("founded_on") < as_of)
        )
        .select("uscc", "name", "status")
        .sort("uscc")
        .head(MAX_RELATED_FIRMS)
        .collect()
    )
    return [
        RelatedFirm(relation="同一法定代表人 · same legal representative", **row)
        for row in rows.iter_rows(named=True)
    ]


def _core_enterprises(lake: Lake, uscc: str, as_of: date) -> list[CoreEnterprise]:
    links = _scan(lake, "supply_core_link")
    if links is None:
        return []
    rows = (
        links.filter((pl.col("supplier_uscc") == uscc) & (pl.col("since") < as_of))
        .sort("since")
        .collect()
    )
    return [
        CoreEnterprise(
            uscc=row["core_uscc"],
            name=row["core_name"],
            platform=row["platform"],
            since=row["since"],
            status=row["status"],
        )
        for row in rows.iter_rows(named=True)
    ]


def _counterparties(
    lake: Lake, uscc: str, as_of: date, lags: Mapping[str, int], direction: str
) -> list[Counterparty]:
    links = _scan(lake, "tax_invoice_link")
    if links is None:
        return []
    cutoff = as_of - timedelta(days=lags.get("tax_invoice_link", 0))
    visible = links.filter(
        (pl.col("uscc") == uscc)
        & (pl.col("period_end") < cutoff)
        & (pl.col("direction") == direction)
    ).collect()
    if visible.is_empty():
        return []
    latest = visible.filter(pl.col("year") == pl.col("year").max())
    top = latest.sort("amount", descending=True, nulls_last=True).head(TOP_COUNTERPARTIES)
    names = _names(lake, top["counterparty_uscc"].to_list())
    return [
        Counterparty(
            uscc=row["counterparty_uscc"],
            name=names.get(row["counterparty_uscc"]),
            direction=row["direction"],
            year=row["year"],
            invoices=row["invoice_count"],
            amount=row["amount"],
        )
        for row in top.iter_rows(named=True)
    ]


def _names(lake: Lake, usccs: list[str]) -> dict[str, str]:
    """Firm names from the registry, or from supply-chain links for core enterprises (which are
    often registered outside the province)."""
    names: dict[str, str] = {}
    links = _scan(lake, "supply_core_link")
    if links is not None and usccs:
        found = (
            links.filter(pl.col("core_uscc").is_in(usccs))
            .select("core_uscc", "core_name")
            .unique("core_uscc")
            .collect()
        )
        names.update(zip(found["core_uscc"], found["core_name"], strict=True))
    firms = _scan(lake, "reg_enterprise")
    if firms is not None and usccs:
        found = firms.filter(pl.col("uscc").is_in(usccs)).select("uscc", "name").collect()
        names.update(zip(found["uscc"], found["name"], strict=True))
    return names
