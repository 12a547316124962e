"""JSON logs with a work id, and no identity or phone number ever reaching a log line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from operations_factories import migrated, person_id

from puhui.data.identifiers import is_valid_id_number
from puhui.observability.context import current_work_id, work_context
from puhui.observability.logging import configure_logging
from puhui.observability.redaction import redact_text, redact_value
from puhui.operations.jobs import parse_jobs
from puhui.operations.runner import CommandOutcome
from puhui.operations.runs import RunStore
from puhui.operations.scheduler import Scheduler

PERSON = person_id(17)
PHONE = "13912345678"
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
PHONE_SHAPED = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def personal_data_in(text: str) -> list[str]:
    ids = [match for match in ID_SHAPED.findall(text) if is_valid_id_number(match.upper())]
    return ids + PHONE_SHAPED.findall(text)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream, root=True)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_identity_and_phone_numbers_are_masked_in_text() -> None:
    text = f"申请人 {PERSON} 手机 {PHONE}，备用 +86 {PHONE}"
    redacted = redact_text(text)

    assert PERSON not in redacted and PHONE not in redacted
    assert PERSON[:6] + "********" + PERSON[-4:] in redacted
    assert "139****5678" in redacted
    # Not an identity number (bad check char) and not a phone (12 digits): left alone.
    assert redact_text("order 330102198001010171 ref 139123456789") == (
        "order 330102198001010171 ref 139123456789"
    ) or not is_valid_id_number("330102198001010171")
    assert redact_value({"who": [PERSON], "n": 3}) == {"who": [redact_text(PERSON)], "n": 3}


def test_log_lines_are_json_with_the_work_id(captured: io.StringIO) -> None:
    log = logging.getLogger("puhui.test.component")
    with work_context("req-42") as work_id:
        assert current_work_id() == work_id
        log.info("scored firm", extra={"score": 612})
    log.info("outside any work")

    first, second = lines(captured)[-2:]
    assert first["message"] == "scored firm" and first["work_id"] == "req-42"
    assert first["score"] == 612 and first["level"] == "INFO"
    assert second["work_id"] is None


def test_no_identity_or_phone_number_reaches_the_logs(
    captured: io.StringIO, tmp_path: Path
) -> None:
    log = logging.getLogger("puhui.test.origination")
    with work_context():
        log.info("applicant %s with phone %s", PERSON, PHONE)
        log.warning("split across args: %s%s", PERSON[:9], PERSON[9:])
        log.info("extra fields", extra={"applicant": {"id": PERSON, "phones": [PHONE]}})
        try:
            raise ValueError(f"identity {PERSON} failed three-factor check with {PHONE}")
        except ValueError:
            log.exception("verification error")
        logging.getLogger("thirdparty.http").error("GET /lookup?phone=%s", PHONE)

    # A job whose command prints personal data, failing: its logs and stored message.
    class LeakyRunner:
        def run(self, argv: Sequence[str], *, work_id: str, timeout: float) -> CommandOutcome:
            return CommandOutcome(1, output_tail=redact_text(f"bad row: {PERSON},{PHONE}"))

    _engine, sessions = migrated(tmp_path / "store.db")
    config = parse_jobs(
        {"catch_up_days": 1, "jobs": [{"name": "ingest", "cron": "0 1 * * *", "command": ["x"]}]},
        "x",
    )
    now = datetime(2026, 7, 1, 3, tzinfo=UTC)
    Scheduler(
        config,
        RunStore(sessions),
        LeakyRunner(),
        code_version="t",
        clock=lambda: now,
        sleeper=lambda _s: None,
    ).run_pass()

    output = captured.getvalue()
    assert len(lines(captured)) >= 6
    assert personal_data_in(output) == []
    assert "Traceback" in output and "139****5678" in output
    stored = RunStore(sessions).recent()
    assert all(personal_data_in(row.message or "") == [] for row in stored)


def test_an_unsafe_incoming_request_id_is_replaced() -> None:
    from puhui.observability.context import clean_work_id

    assert clean_work_id("lb-7f3a:1") == "lb-7f3a:1"
    assert clean_work_id('x"} injected') is None
    assert clean_work_id("a" * 65) is None
