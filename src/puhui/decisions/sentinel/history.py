"""申请历史 · velocity (频次) and model-gaming (套模型) features from earlier applications.

One in-memory history serves both paths: replay walks the lake's applications in time order,
asking for an application's features and then recording it; real time asks for the new
application's features against the history loaded at start (and records it afterwards). So
velocity per device, IP, /24 subnet, phone, person and firm, and the firm's edited repeats,
are one definition. Counts include the application itself.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

HOUR = 3600.0
DAY = 86_400.0
WINDOWS = {"1h": HOUR, "24h": DAY, "30d": 30 * DAY}
KEYS = ("device", "ip", "ip24", "phone", "person", "firm")


@dataclass(frozen=True)
class PastApplication:
    """What the bank recorded of an application (the decision once it was made)."""

    at: float  # seconds since the epoch (UTC)
    uscc: str
    device: str | None
    ip: str | None
    phone: str | None
    person: str | None
    channel: str | None
    staff: str | None
    product: str | None
    amount: float | None
    decision: str | None = None  # approved, rejected, referred, withdrawn; None while pending

    @property
    def ip24(self) -> str | None:
        return self.ip.rsplit(".", 1)[0] if self.ip else None

    def key(self, kind: str) -> str | None:
        if kind == "firm":
            return self.uscc
        if kind == "ip24":
            return self.ip24
        return getattr(self, kind)


class ApplicationHistory:
    """Applications by key, in time order; ``record`` must be called in time order."""

    def __init__(self) -> None:
        self._times: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in KEYS}
        self._rows: dict[str, dict[str, list[PastApplication]]] = {
            k: defaultdict(list) for k in KEYS
        }

    def record(self, application: PastApplication) -> None:
        for kind in KEYS:
            key = application.key(kind)
            if key:
                self._times[kind][key].append(application.at)
                self._rows[kind][key].append(application)

    def _window(
        self, kind: str, key: str | None, at: float, seconds: float
    ) -> list[PastApplication]:
        if not key or key not in self._times[kind]:
            return []
        times = self._times[kind][key]
        start = bisect_right(times, at - seconds)
        stop = bisect_left(times, at)  # strictly earlier than this application
        return self._rows[kind][key][start:stop]

    def features(
        self, application: PastApplication, related: Callable[[str], bool] | None = None
    ) -> dict[str, float | bool | None]:
        """Velocity and gaming features of ``application`` against what came before it.

        ``related(uscc)`` marks firms of the same owner (one person heading several firms
        applies honestly from one phone and device); they do not count as *other* firms.
        """
        same = related or (lambda uscc: uscc == application.uscc)

        def others(rows: list[PastApplication]) -> set[str]:
            return {r.uscc for r in rows if r.uscc != application.uscc and not same(r.uscc)}

        out: dict[str, float | bool | None] = {}
        at = application.at
        for kind in KEYS:
            key = application.key(kind)
            for name, seconds in WINDOWS.items():
                earlier = len(self._window(kind, key, at, seconds)) if key else 0
                out[f"{kind}_apps_{name}"] = float(earlier + 1) if key else None
        for kind in ("device", "phone", "ip24"):
            key = application.key(kind)
            rows = self._window(kind, key, at, WINDOWS["30d"])
            out[f"{kind}_firms_30d"] = float(len(others(rows)) + 1) if key else None
        for kind, name in (("device", "device_other_firms"), ("ip", "ip_other_firms")):
            key = application.key(kind)
            rows = self._window(kind, key, at, 10 * 365 * DAY)
            out[name] = float(len(others(rows))) if key else None
        phone_rows = self._window("phone", application.phone, at, 10 * 365 * DAY)
        out["phone_app_other_firms"] = float(len(others(phone_rows)))
        firm_all = self._window("firm", application.uscc, at, 10 * 365 * DAY)
        out["firm_prior_apps"] = float(len(firm_all))
        devices = {r.device for r in firm_all}
        out["device_new_for_firm"] = (
            application.device not in devices if application.device and firm_all else None
        )
        out.update(_gaming(application, firm_all))
        return out


def _gaming(
    application: PastApplication, earlier: list[PastApplication]
) -> dict[str, float | bool | None]:
    at = application.at
    month = [r for r in earlier if r.at > at - 30 * DAY]
    quarter = [r for r in earlier if r.at > at - 90 * DAY]
    last = earlier[-1] if earlier else None
    amounts = {r.amount for r in month} | {application.amount}
    edited = any(
        r.amount
        and application.amount
        and (r.amount != application.amount or r.channel != application.channel)
        and abs(application.amount / r.amount - 1) <= 0.6
        for r in month
    )
    return {
        "prior_apps_30d": float(len(month)),
        "prior_declines_90d": float(sum(r.decision == "rejected" for r in quarter)),
        "prior_referrals_30d": float(sum(r.decision == "referred" for r in month)),
        "amount_vs_last": (
            application.amount / last.amount
            if last and last.amount and application.amount is not None and last.at > at - 90 * DAY
            else None
        ),
        "amount_edits_30d": float(len({a for a in amounts if a is not None})),
        "channels_30d": float(len({r.channel for r in month} | {application.channel})),
        "staff_30d": float(
            len({r.staff for r in month if r.staff} | ({application.staff} - {None}))
        ),
        "products_30d": float(len({r.product for r in month} | {application.product})),
        "days_since_last_app": (at - last.at) / DAY if last else None,
        "near_duplicate_30d": bool(edited),
    }
