"""哨兵特征 · the features the sentinel's strategies and models read, one row per application.

Each is computed once per application from what the bank could see when it arrived (the
application itself, earlier applications, registration, the month before's monthly data,
listings effective that day): in real time from the in-memory index, in replay from the lake,
by the same code (``puhui.actions.sentinel.index``). The schema below is what expressions are
type-checked against; model scores (``model_*``) join it from the model catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from puhui.decisions.sentinel.expressions import Type


@dataclass(frozen=True)
class SentinelFeature:
    name: str
    type: Type
    zh: str
    en: str


def _f(name: str, type_: Type, zh: str, en: str) -> SentinelFeature:
    return SentinelFeature(name, type_, zh, en)


N, S, B = "number", "string", "bool"

FEATURES: tuple[SentinelFeature, ...] = (
    # application behaviour (申请行为)
    _f("channel", S, "申请渠道", "channel"),
    _f("product_code", S, "申请产品", "product applied for"),
    _f("requested_amount", N, "申请金额", "amount requested (yuan)"),
    _f("apply_hour", N, "申请时刻（北京时间）", "hour of day applied, Beijing time"),
    _f("is_weekend", B, "周末申请", "applied on a weekend"),
    _f("staff_referred", B, "客户经理推荐", "referred by a staff member"),
    _f("amount_to_revenue", N, "申请金额/年收入", "amount over declared revenue, 12 months"),
    _f("ip_city_mismatch", B, "IP所在城市与注册地不符", "IP geolocates outside the firm's city"),
    _f("device_other_firms", N, "设备关联其他企业数", "other firms that applied from the device"),
    _f("phone_other_firms", N, "手机号关联其他企业数", "other firms using the phone"),
    _f("ip_other_firms", N, "IP关联其他企业数", "other firms that applied from the IP"),
    # identity (身份)
    _f(
        "applicant_is_legal_rep",
        B,
        "申请人为法定代表人",
        "the applicant is the legal representative",
    ),
    _f("phone_is_legal_rep", B, "手机号为法人本人", "phone is the legal representative's"),
    _f("phone_is_contact", B, "手机号为企业联络电话", "phone is the firm's registered contact"),
    _f("phone_known", B, "手机号与企业有关", "phone belongs to the firm's legal rep or contact"),
    _f("device_new_for_firm", B, "新设备", "device never used by the firm before"),
    _f("firm_prior_apps", N, "企业历史申请数", "earlier applications of the firm"),
    _f("legal_rep_age", N, "法人年龄", "legal representative's age"),
    _f("legal_rep_firms", N, "法人担任法人的企业数", "firms with the same legal representative"),
    _f("legal_rep_changed_180d", B, "近半年变更法人", "legal representative changed in 180 days"),
    # velocity (频次)
    *(
        _f(f"{key}_apps_{window}", N, f"{zh}{wzh}申请数", f"applications from the {en}, {window}")
        for key, zh, en in (
            ("device", "同设备", "device"),
            ("ip", "同IP", "IP address"),
            ("ip24", "同C段IP", "/24 subnet"),
            ("phone", "同手机", "phone"),
            ("person", "同申请人", "applicant"),
            ("firm", "同企业", "firm"),
        )
        for window, wzh in (("1h", "1小时"), ("24h", "24小时"), ("30d", "30天"))
    ),
    _f("device_firms_30d", N, "同设备30天企业数", "distinct firms on the device, 30 days"),
    _f("phone_firms_30d", N, "同手机30天企业数", "distinct firms on the phone, 30 days"),
    _f("ip24_firms_30d", N, "同C段30天企业数", "distinct firms on the /24, 30 days"),
    _f("bureau_ent_queries_30d", N, "企业征信查询30天", "enterprise bureau queries, 30 days"),
    _f("bureau_ent_queries_90d", N, "企业征信查询90天", "enterprise bureau queries, 90 days"),
    _f("bureau_rep_queries_30d", N, "法人征信查询30天", "legal rep's bureau queries, 30 days"),
    # enterprise authenticity (企业真实性)
    _f("firm_age_months", N, "成立月数", "months since founded"),
    _f("registered_capital", N, "注册资本", "registered capital (yuan)"),
    _f("paid_in_ratio", N, "实缴比例", "paid-in over registered capital"),
    _f("entity_type", S, "企业类型", "legal form"),
    _f("status_active", B, "存续", "registered as active"),
    _f("insured_headcount", N, "参保人数", "insured employees, last month"),
    _f("electricity_kwh_3m", N, "近3月用电量", "electricity, last 3 months (kWh)"),
    _f("has_utilities", B, "有水电记录", "any utility record in 12 months"),
    _f("address_firms", N, "同地址企业数", "firms at the same address"),
    _f("building_firms", N, "同楼栋企业数", "firms in the same building"),
    _f("contact_phone_firms", N, "同联络电话企业数", "firms with the same contact phone"),
    _f("shareholder_max_firms", N, "股东最多控股企业数", "most firms held by one shareholder"),
    _f("declared_revenue_12m", N, "近12月申报收入", "declared revenue, 12 months"),
    _f("inflow_12m", N, "近12月入账", "bank inflows, 12 months"),
    _f("has_tax_history", B, "有纳税记录", "any tax declaration in 12 months"),
    # credit performance (信用表现)
    _f("ever_borrowed", B, "有信贷记录", "the firm has ever borrowed"),
    _f("ent_lender_count", N, "授信机构数", "lenders with a facility"),
    _f("ent_overdue_amount", N, "企业逾期金额", "enterprise overdue amount"),
    _f("ent_max_overdue_days", N, "企业最长逾期天数", "enterprise longest overdue (days)"),
    _f("ent_npl_balance", N, "企业不良余额", "enterprise non-performing balance"),
    _f("ent_guarantee_ratio", N, "对外担保/借款", "guarantees given over loans"),
    _f("rep_overdue_accounts", N, "法人逾期账户数", "legal rep's overdue accounts"),
    _f("rep_overdue_amount", N, "法人逾期金额", "legal rep's overdue amount"),
    _f("rep_worst_24m", N, "法人24月最差状态", "legal rep's worst status, 24 months"),
    _f("rep_card_utilisation", N, "法人信用卡使用率", "legal rep's card utilisation"),
    _f("spouse_overdue_accounts", N, "配偶逾期账户数", "spouse's overdue accounts"),
    _f("spouse_worst_24m", N, "配偶24月最差状态", "spouse's worst status, 24 months"),
    # legal and compliance (司法合规)
    _f("firm_dishonest", B, "企业失信被执行", "the firm is a listed dishonest debtor"),
    _f("rep_dishonest", B, "法人失信被执行", "the legal rep is a listed dishonest debtor"),
    _f("open_enforcements", N, "未结执行案件", "open enforcement cases"),
    _f("enforcement_amount", N, "执行标的", "amount under enforcement (yuan)"),
    _f("defendant_cases_12m", N, "近12月被告案件", "cases as defendant, 12 months"),
    _f("rep_enforcements", N, "法人被执行案件", "legal rep's enforcement cases"),
    _f("env_penalties_24m", N, "近24月环保处罚", "environmental penalties, 24 months"),
    _f("env_suspended", B, "责令停产", "ordered to stop production"),
    _f("tax_arrears", N, "欠税", "tax in arrears"),
    _f("social_arrears", N, "欠缴社保", "social insurance in arrears"),
    _f("tax_rating", S, "纳税信用等级", "tax credit rating"),
    # digital radar (数字雷达)
    _f("revenue_vs_inflow_12m", N, "申报收入/入账", "declared revenue over bank inflows"),
    _f("invoice_vs_revenue_12m", N, "开票/申报收入", "invoices issued over declared revenue"),
    _f("revenue_per_kwh_vs_industry", N, "单位电耗收入/行业", "revenue per kWh vs industry"),
    _f("revenue_per_head_vs_industry", N, "人均收入/行业", "revenue per employee vs industry"),
    _f("vat_burden_vs_industry", N, "税负/行业", "VAT per yuan of revenue vs industry"),
    _f("payroll_per_head", N, "人均代发工资", "payroll per insured employee (month)"),
    _f("revenue_vs_received_invoices", N, "收入/进项", "revenue over invoices received"),
    # blacklists (黑名单)
    _f("bl_enterprise", B, "企业在黑名单", "the firm is listed"),
    _f("bl_legal_rep", B, "法人在黑名单", "the legal representative is listed"),
    _f("bl_applicant", B, "申请人在黑名单", "the applicant is listed"),
    _f("bl_phone", B, "手机号在黑名单", "the phone is listed"),
    _f("bl_device", B, "设备在黑名单", "the device is listed"),
    _f("bl_ip", B, "IP在黑名单", "the IP address is listed"),
    _f("bl_shareholder", B, "股东在黑名单", "a shareholder is listed"),
    _f("bl_fuzzy_name", N, "企业名称近似黑名单", "best fuzzy similarity to a listed firm's name"),
    _f("bl_fuzzy_identifier", B, "证照近似黑名单", "an identifier one edit from a listed one"),
    _f("bl_hits", N, "黑名单命中数", "listings hit"),
    _f("bl_fraud_hits", N, "欺诈名单命中数", "listings hit on fraud lists (神荼 fraud, proxies)"),
    # network (关联网络)
    _f("net_component_firms", N, "关联网络企业数", "firms in the connected component"),
    _f("net_young_firms", N, "网络内新设企业数", "firms under 18 months in the component"),
    _f("net_shared_phone_firms", N, "共用手机企业数", "firms sharing a phone with the firm"),
    _f("net_shared_device_firms", N, "共用设备企业数", "firms sharing a device with the firm"),
    _f("net_community_firms", N, "社区规模", "firms in the firm's community"),
    _f("net_ring_score", N, "团伙分", "ring score (0–1)"),
    _f("net_fraud_distance", N, "距已知欺诈跳数", "hops to a known fraud (null: none within 4)"),
    _f("net_listed_in_component", N, "网络内黑名单企业数", "listed firms in the component"),
    # data farming (养数据)
    _f("farm_revenue_growth", N, "收入近3月/前12月", "revenue, last 3 months over the 12 before"),
    _f("farm_invoice_growth", N, "开票近3月/前12月", "invoices, last 3 months over the 12 before"),
    _f("farm_inflow_growth", N, "入账近3月/前12月", "inflows, last 3 months over the 12 before"),
    _f("farm_kwh_growth", N, "用电近3月/前12月", "electricity, last 3 months over the 12 before"),
    _f("farm_head_growth", N, "参保近3月/前12月", "headcount, last 3 months over the 12 before"),
    _f("farm_break", N, "养数据断点", "log growth of money over log growth of activity"),
    _f("farm_rising_months", N, "收入连续上升月数", "months of rising revenue before applying"),
    _f("farm_surprise", N, "收入开票异动（标准差）", "revenue and invoice jump in own spreads"),
    _f("farm_surprise_gap", N, "资金异动减经营异动", "money surprise minus activity surprise"),
    # model gaming (套模型)
    _f("prior_apps_30d", N, "近30天本企业申请", "the firm's earlier applications, 30 days"),
    _f("prior_declines_90d", N, "近90天被拒次数", "the firm's declined applications, 90 days"),
    _f("prior_referrals_30d", N, "近30天转人工次数", "the firm's referred applications, 30 days"),
    _f("amount_vs_last", N, "本次/上次申请金额", "amount over the previous application's"),
    _f("amount_edits_30d", N, "30天内不同金额数", "distinct amounts asked, 30 days"),
    _f("channels_30d", N, "30天内渠道数", "distinct channels, 30 days"),
    _f("staff_30d", N, "30天内客户经理数", "distinct referring staff, 30 days"),
    _f("products_30d", N, "30天内产品数", "distinct products, 30 days"),
    _f("days_since_last_app", N, "距上次申请天数", "days since the firm's previous application"),
    _f("near_duplicate_30d", B, "近似重复申请", "an earlier application within 30 days, edited"),
)

FEATURE_TYPES: dict[str, Type] = {f.name: f.type for f in FEATURES}
