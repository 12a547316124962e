"""The sentinel reads a firm's registration status as of the application's day, not today's."""

from __future__ import annotations

from datetime import date

from puhui.actions.sentinel.loading import Firm


def _firm(active: bool, status_since: date | None) -> Firm:
    return Firm(
        uscc="91330100MA2XXXXX0X",
        name="测试公司",
        legal_rep="330102199001011234",
        city="3301",
        founded_on=date(2015, 1, 1),
        registered_capital=1e6,
        paid_in_ratio=0.5,
        entity_type="limited_company",
        active=active,
        address="杭州市",
        contact_phone=None,
        status_since=status_since,
    )


def test_a_firm_struck_off_after_the_application_was_active_when_it_applied() -> None:
    struck = _firm(False, date(2025, 10, 10))
    assert struck.active_on(date(2025, 9, 17))
    assert struck.active_on(date(2025, 10, 10))  # observable from the day after its date
    assert not struck.active_on(date(2025, 10, 11))


def test_an_undated_strike_off_counts_at_every_date_and_an_active_firm_is_always_active() -> None:
    assert not _firm(False, None).active_on(date(2020, 1, 1))
    assert _firm(True, None).active_on(date(2030, 1, 1))
