"""Notification adapters share one interface; the lead-time chart and risk graph are SVG."""

from __future__ import annotations

import json

import httpx

from puhui.actions.alarm.notify import LogNotifier, Message, WeComNotifier, demo_notifiers
from puhui.web.alarm import combination_graph_svg, lead_time_svg


def test_the_wecom_adapter_posts_a_markdown_message_to_the_webhook(monkeypatch):
    sent = {}

    def fake_post(url, content, headers, timeout):
        sent.update(url=url, body=json.loads(content), headers=headers)
        return httpx.Response(200, request=httpx.Request("POST", url))

    monkeypatch.setattr(httpx, "post", fake_post)
    WeComNotifier("https://qyapi.example/webhook?key=k").send(
        Message("wecom", "S100013", "【红色预警】请于 2026-06-02 前核查处置", "task 7")
    )
    assert sent["body"]["msgtype"] == "markdown"
    assert "红色预警" in sent["body"]["markdown"]["content"]
    assert "<@S100013>" in sent["body"]["markdown"]["content"]


def test_the_demo_channels_log_what_they_would_send():
    channels = demo_notifiers()
    assert [c.channel for c in channels] == ["email", "sms", "wecom"]
    log = LogNotifier("sms")
    log.send(Message("sms", "S1", "subject", "body"))
    assert log.sent == [Message("sms", "S1", "subject", "body")]


def test_the_lead_time_chart_draws_one_bar_per_condition_and_the_graph_one_edge_per_pair():
    rows = [
        {
            "condition": "tax.revenue_drop",
            "defaulters": 9,
            "median_days": 196.0,
            "p25_days": 113.0,
            "p75_days": 273.0,
        },
        {
            "condition": "bureau.overdue_days",
            "defaulters": 9,
            "median_days": 59.0,
            "p25_days": 52.0,
            "p75_days": 67.0,
        },
    ]
    chart = str(lead_time_svg(rows, title="lead time"))
    assert chart.count("<rect") == 2 and "tax.revenue_drop (9)" in chart and "196d" in chart
    graph = str(combination_graph_svg([{"a": "x.a", "b": "y.b", "lift": 4.0}]))
    assert graph.count("<line") == 1 and graph.count("<circle") == 2
    assert str(lead_time_svg([])) == ""
