"""Notifications (预警通知) behind one interface: e-mail, SMS and WeCom (企业微信) adapters.

The scan and the escalation call ``Notifier.send``; which channels exist is wiring. The demo
and the tests use :class:`LogNotifier`, which only logs and remembers what it would send.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import httpx

log = logging.getLogger("puhui.alarm.notify")


@dataclass(frozen=True)
class Message:
    channel: str
    recipient: str  # staff id; adapters resolve it to an address
    subject: str
    body: str


class Notifier(Protocol):
    channel: str

    def send(self, message: Message) -> None: ...


@dataclass
class LogNotifier:
    """Logs each message instead of sending it (demo, tests)."""

    channel: str = "log"
    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.sent.append(message)
        log.info("[%s] to %s: %s", message.channel, message.recipient, message.subject)


@dataclass
class EmailNotifier:
    """SMTP e-mail; ``addresses`` maps staff ids to mailboxes."""

    host: str
    sender: str
    addresses: dict[str, str]
    port: int = 25
    channel: str = "email"

    def send(self, message: Message) -> None:
        email = EmailMessage()
        email["From"], email["To"] = self.sender, self.addresses[message.recipient]
        email["Subject"] = message.subject
        email.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(email)


@dataclass
class SmsNotifier:
    """An SMS gateway over HTTP (POST JSON with the phone number and text)."""

    url: str
    phones: dict[str, str]
    channel: str = "sms"

    def send(self, message: Message) -> None:
        payload = {"phone": self.phones[message.recipient], "text": message.subject}
        httpx.post(self.url, json=payload, timeout=10).raise_for_status()


@dataclass
class WeComNotifier:
    """企业微信 group robot webhook (markdown message)."""

    webhook_url: str
    channel: str = "wecom"

    def send(self, message: Message) -> None:
        content = f"**{message.subject}**\n{message.body}\n<@{message.recipient}>"
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        response = httpx.post(
            self.webhook_url,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        response.raise_for_status()


def demo_notifiers() -> list[Notifier]:
    """The three channels as loggers: what the demo sends."""
    return [LogNotifier("email"), LogNotifier("sms"), LogNotifier("wecom")]
