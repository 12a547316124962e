"""Request and response bodies of the origination API (进件接口), validated strictly: unknown
fields, a USCC with a wrong check character, a malformed phone or IP, an amount with more than
two decimals are refused with a 422 naming the field and the rule."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from puhui.data.identifiers import is_valid_uscc
from puhui.data.store.origination_tables import Channel, RepaymentMethod, ReviewResolution

Money = Annotated[Decimal, Field(gt=0, le=Decimal(100_000_000), decimal_places=2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicantMetadata(_Strict):
    """设备/IP/手机号 · what the channel saw of the applicant."""

    device_id: str | None = Field(None, min_length=4, max_length=128, pattern=r"^[\w\-:.]+$")
    ip_address: str | None = Field(None, max_length=45)
    phone: str | None = Field(None, pattern=r"^1\d{10}$", description="11-digit mobile number")

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError("rule ip_address: not an IPv4 or IPv6 address") from None
        return value


class ApplicationIn(_Strict):
    """A loan application from a channel."""

    uscc: str = Field(min_length=18, max_length=18, description="统一社会信用代码")
    channel: Channel
    product_code: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{1,31}$")
    requested_amount: Money | None = None
    requested_term_months: int | None = Field(None, ge=1, le=120)
    consent_id: str | None = Field(None, min_length=8, max_length=36)
    metadata: ApplicantMetadata = ApplicantMetadata()

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        if not is_valid_uscc(value):
            raise ValueError(
                "rule GB 32100: not a valid unified social credit code (check character)"
            )
        return value


Action = Literal[
    "authorize",
    "screen",
    "decide",
    "review",
    "offer",
    "accept",
    "sign",
    "disburse",
    "repay",
    "withdraw",
    "expire",
    "advance",
]


class TransitionIn(_Strict):
    """One step; fields beyond ``action`` apply to the steps that name them."""

    action: Action
    actor: str = Field("applicant", min_length=1, max_length=32)
    consent_id: str | None = Field(None, min_length=8, max_length=36, description="authorize")
    resolution: ReviewResolution | None = Field(None, description="review")
    note: str | None = Field(None, max_length=500, description="review")
    amount: Money | None = Field(None, description="accept (≤ limit) or repay")
    term_months: int | None = Field(None, ge=1, le=120, description="accept")
    repayment_method: RepaymentMethod | None = Field(None, description="accept")
    contract_id: str | None = Field(None, max_length=64, description="sign")
    on: date | None = Field(None, description="disburse / repay: the value date")


class OfferOut(BaseModel):
    product: str
    limit: Decimal
    rate_bp: int
    term_months: int
    repayment_method: str


class TransitionOut(BaseModel):
    seq: int
    from_state: str | None
    to_state: str
    action: str
    occurred_at: datetime
    actor: str


class ApplicationOut(BaseModel):
    application_id: str
    uscc: str
    channel: str
    state: str
    version: int
    requested_product: str | None
    requested_amount: Decimal | None
    consent_id: str | None
    sentinel_verdict: str | None
    decision_outcome: str | None
    decision: dict[str, Any] | None
    offer: OfferOut | None
    accepted_amount: Decimal | None
    contract_id: str | None
    phone: str | None = Field(description="masked")
    created_at: datetime
    updated_at: datetime
    transitions: list[TransitionOut] = []


class ProductOut(BaseModel):
    code: str
    zh: str
    en: str
    kind: str
    term_months: list[int]
    repayment_methods: list[str]
    min_amount: Decimal
    max_amount: Decimal
    floor_bp: int
    cap_bp: int
    eligibility: list[str]


class CatalogOut(BaseModel):
    catalog_version: str
    lpr_bp: int
    as_of: date
    products: list[ProductOut]
