"""中文 by default, English by a switch: the workbench's words in one table.

Templates call ``t("key")``; a missing key shows the key itself, so a gap is visible, not fatal.
The language is a cookie set by ``/lang/{code}``.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "puhui_lang"

STRINGS: dict[str, tuple[str, str]] = {
    "app": ("普惠 · 小微金融工作台", "Puhui · SME lending workbench"),
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong username or password"),
    "session_expired": ("会话已过期，请重新登录", "Your session has ended; please sign in again"),
    "switch_lang": ("English", "中文"),
    "my_firms": ("我的客户", "My firms"),
    "branch_firms": ("本行客户", "Branch firms"),
    "firms": ("企业客户", "Firms"),
    "portfolio": ("组合看板", "Portfolio"),
    "models": ("模型登记册", "Model registry"),
    "audit": ("审计", "Audit"),
    "search": ("搜索", "Search"),
    "search_hint": ("企业名称或统一社会信用代码", "Firm name or USCC"),
    "name": ("名称", "Name"),
    "uscc": ("统一社会信用代码", "USCC"),
    "industry": ("行业", "Industry"),
    "size": ("规模", "Size"),
    "branch": ("机构", "Branch"),
    "manager": ("客户经理", "Account manager"),
    "none_found": ("没有找到", "Nothing found"),
    "profile": ("企业立体画像", "Enterprise 360 profile"),
    "as_of": ("时点", "As of"),
    "overall": ("综合评分", "Overall score"),
    "subscores": ("子评分", "Sub-scores"),
    "coverage": ("覆盖率", "Coverage"),
    "contributors": ("主要驱动", "Main drivers"),
    "trends": ("经营趋势（近12个可观测月）", "Trends (last 12 observable months)"),
    "related": ("关联方", "Related parties"),
    "legal_rep": ("法定代表人", "Legal representative"),
    "shareholders": ("股东", "Shareholders"),
    "siblings": ("同一法定代表人的企业", "Firms sharing the legal representative"),
    "core": ("核心企业", "Core enterprises"),
    "customers": ("前五大客户", "Top customers"),
    "suppliers": ("前五大供应商", "Top suppliers"),
    "flags": ("风险提示", "Flags"),
    "no_flags": ("无风险提示", "No flags"),
    "registration": ("工商登记", "Registration"),
    "founded": ("成立日期", "Founded"),
    "status": ("状态", "Status"),
    "capital": ("注册资本（元）", "Registered capital (yuan)"),
    "unmask": ("查看完整信息", "Show in full"),
    "unmask_reason": ("查看理由（将记入审计日志）", "Reason (written to the audit log)"),
    "unmasked": ("完整个人信息（已记入审计日志）", "Personal data in full (audited)"),
    "phone": ("电话", "Phone"),
    "id_number": ("身份证号", "Identity number"),
    "contact_phone": ("联络员电话", "Contact phone"),
    "masked_note": ("个人信息默认脱敏显示", "Personal data is masked by default"),
    "no_snapshot": ("尚无特征快照", "No feature snapshot yet"),
    "loan_balance": ("贷款余额（万元）", "Loan balance (10k yuan)"),
    "borrowers": ("贷款户数", "Borrowers"),
    "first_loan": ("今年首贷户", "First-loan borrowers this year"),
    "npl_ratio": ("不良率", "NPL ratio"),
    "loans": ("笔数", "Loans"),
    "month": ("月份", "Month"),
    "by_branch": ("分机构", "By branch"),
    "balance_trend": ("贷款余额走势（万元）", "Loan balance (10k yuan)"),
    "npl_trend": ("不良率走势（%）", "NPL ratio (%)"),
    "no_loans": ("数据湖中尚无贷款数据", "No loan data in the lake yet"),
    "two_up": ("两增两控", "Two increases, two controls"),
    "balance_growth": ("余额较年初增长", "Balance growth since January"),
    "borrower_growth": ("户数较年初增长", "Borrower growth since January"),
    "model": ("模型", "Model"),
    "version": ("版本", "Version"),
    "kind": ("类型", "Kind"),
    "trained": ("训练时间", "Trained"),
    "trained_by": ("训练人", "Trained by"),
    "metrics": ("指标", "Metrics"),
    "report": ("验证报告", "Validation report"),
    "no_models": ("登记册中尚无模型", "No model in the registry yet"),
    "audit_chain": ("审计日志哈希链", "Audit log hash chain"),
    "consent_chain": ("授权日志校验", "Consent log verification"),
    "intact": ("完整", "intact"),
    "broken": ("已被篡改", "BROKEN"),
    "entries": ("条", "entries"),
    "bureau_log": ("征信查询记录", "Bureau query log"),
    "access_log": ("数据访问与审计日志", "Data-access and audit log"),
    "time": ("时间", "Time"),
    "actor": ("操作人", "Actor"),
    "role": ("角色", "Role"),
    "action": ("动作", "Action"),
    "subject": ("对象", "Subject"),
    "purpose": ("目的", "Purpose"),
    "outcome": ("结果", "Outcome"),
    "report_type": ("报告", "Report"),
    "consent": ("授权", "Consent"),
    "filter": ("筛选", "Filter"),
    "error": ("出错了", "Something went wrong"),
    "back": ("返回", "Back"),
    "forbidden": ("无权访问", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "problems": ("发现的问题", "Findings"),
    "no_keys": ("尚无签名密钥（未登记任何授权）", "No signing keys yet (no consent recorded)"),
    "applications": ("进件", "Applications"),
    "application": ("申请", "Application"),
    "reviews": ("人工审批", "Manual review"),
    "state": ("状态", "State"),
    "all": ("全部", "All"),
    "channel": ("渠道", "Channel"),
    "product": ("产品", "Product"),
    "amount": ("申请金额", "Requested amount"),
    "created": ("提交时间", "Submitted"),
    "sentinel": ("反欺诈", "Sentinel"),
    "decision": ("决策", "Decision"),
    "reasons": ("原因", "Reasons"),
    "offer": ("报价", "Offer"),
    "limit": ("额度", "Limit"),
    "rate": ("利率", "Rate"),
    "history": ("流转记录", "History"),
    "detail": ("详情", "Detail"),
    "queued": ("入队时间", "Queued"),
    "reason": ("原因", "Reason"),
    "approve": ("批准", "Approve"),
    "decline": ("拒绝", "Decline"),
    "note": ("审批意见", "Reviewer's note"),
    "resolve": ("提交审批", "Resolve"),
    "resolved": ("已审批", "Resolved"),
    "queue_empty": ("审批队列为空", "The queue is empty"),
}


def normalise(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def translator(lang: str) -> Callable[[str], str]:
    index = 0 if normalise(lang) == "zh" else 1

    def t(key: str) -> str:
        pair = STRINGS.get(key)
        return pair[index] if pair else key

    return t
