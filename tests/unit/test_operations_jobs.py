"""Jobs declared in YAML: validation that names the entry, dependency order, data dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from puhui.operations.jobs import (
    DataDateRule,
    JobConfigError,
    RetryPolicy,
    data_date_for,
    load_jobs,
    parse_jobs,
    topological_order,
)


def _document(*jobs: dict[str, object]) -> dict[str, object]:
    return {"timezone": "Asia/Shanghai", "jobs": list(jobs)}


def _job(name: str, **changes: object) -> dict[str, object]:
    return {"name": name, "cron": "0 5 * * *", "command": ["lake", "tables"], **changes}


def test_packaged_schedule_loads_with_alarm_after_feeds_and_features() -> None:
    config = load_jobs()

    order = topological_order(config.jobs)
    alarm = config.job("alarm_scan")
    assert set(alarm.depends_on) == {"ingest_feeds", "features_monthly"}
    assert order.index("ingest_feeds") < order.index("features_monthly") < order.index("alarm_scan")
    assert alarm.argv(date(2026, 11, 27)) == ["alarm", "scan", "--date", "2026-11-27"]


def test_bad_cron_is_refused_naming_the_job_and_field() -> None:
    with pytest.raises(JobConfigError, match=r"jobs\[1\] \(alarm\)\.cron.*not valid"):
        parse_jobs(_document(_job("feeds"), _job("alarm", cron="61 5 * * *")), "jobs.yaml")


def test_unknown_dependency_and_cycles_are_refused() -> None:
    with pytest.raises(JobConfigError, match="unknown job"):
        parse_jobs(_document(_job("alarm", depends_on=["feeds"])), "jobs.yaml")
    with pytest.raises(JobConfigError, match="cycle among: a, b"):
        parse_jobs(_document(_job("a", depends_on=["b"]), _job("b", depends_on=["a"])), "jobs.yaml")


def test_command_allows_only_the_date_placeholder_and_no_leading_puhui() -> None:
    with pytest.raises(JobConfigError, match="only placeholder"):
        parse_jobs(_document(_job("a", command=["features", "build", "{month}"])), "x")
    with pytest.raises(JobConfigError, match="drop the leading"):
        parse_jobs(_document(_job("a", command=["puhui", "lake", "tables"])), "x")


def test_unreadable_or_non_yaml_jobs_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "jobs.yaml"
    broken.write_text("jobs: [unclosed", encoding="utf-8")
    with pytest.raises(JobConfigError, match=r"jobs\.yaml is not valid YAML"):
        load_jobs(broken)
    with pytest.raises(JobConfigError, match="cannot read jobs file"):
        load_jobs(tmp_path / "missing.yaml")


def test_topological_order_keeps_file_order_among_independent_jobs() -> None:
    config = parse_jobs(
        _document(_job("alarm", depends_on=["feeds"]), _job("retention"), _job("feeds")), "x"
    )
    assert topological_order(config.jobs) == ["retention", "feeds", "alarm"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (DataDateRule.SAME_DAY, date(2026, 3, 1)),
        (DataDateRule.PREVIOUS_DAY, date(2026, 2, 28)),
        (DataDateRule.FIRST_OF_MONTH, date(2026, 3, 1)),
        (DataDateRule.FIRST_OF_PREVIOUS_MONTH, date(2026, 2, 1)),
    ],
)
def test_data_date_rules(rule: DataDateRule, expected: date) -> None:
    assert data_date_for(rule, date(2026, 3, 1)) == expected


def test_backoff_grows_geometrically_up_to_its_cap() -> None:
    policy = RetryPolicy(attempts=5, backoff_seconds=60, factor=2, max_backoff_seconds=200)
    assert [policy.delay_before(n) for n in range(1, 6)] == [0, 60, 120, 200, 200]


def test_config_hash_changes_with_the_schedule() -> None:
    first = parse_jobs(_document(_job("a")), "x")
    second = parse_jobs(_document(_job("a", cron="0 6 * * *")), "x")
    assert first.config_hash() != second.config_hash()
    assert first.config_hash() == parse_jobs(_document(_job("a")), "x").config_hash()
