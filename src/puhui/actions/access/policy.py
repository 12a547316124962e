"""Session lifetimes, lock-out and rate limits, declared once and handed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class AccessPolicy:
    """How long sessions live and how hard logins are throttled.

    - a page session ends after ``page_idle`` without a request, and at ``page_absolute``;
    - an API token lives ``api_token`` from its issue;
    - ``max_failures`` wrong passwords in a row lock the account for ``lockout``;
    - more than ``client_attempts`` logins from one client within ``client_window`` are refused
      (HTTP 429) whatever the user, which slows password spraying across accounts.
    """

    page_idle: timedelta = timedelta(minutes=30)
    page_absolute: timedelta = timedelta(hours=10)
    api_token: timedelta = timedelta(hours=1)
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    client_attempts: int = 30
    client_window: timedelta = timedelta(minutes=5)
    touch_every: timedelta = timedelta(seconds=60)
    api_recheck: timedelta = timedelta(seconds=2)
    """How long a worker trusts an API token it has just checked before asking the store again:
    a token revoked by another worker (logout, password change, deactivation) stops working
    within this; in the worker that revoked it, at once. Zero checks every request."""
