"""Password hashing with argon2id (RFC 9106 low-memory profile, argon2-cffi's default)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from puhui.errors import PuhuiError

MIN_PASSWORD_LENGTH = 12


class WeakPasswordError(PuhuiError):
    """A new password is too short or too simple to set."""


class Passwords:
    """Hash and verify passwords; ``hasher`` is injectable so tests can use cheap parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    def hash(self, password: str) -> str:
        check_strength(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches; a malformed stored hash never matches."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def dummy_verify(self, password: str) -> None:
        """Spend the time of one verification so unknown users are not told apart by timing."""
        self.verify(_DUMMY_HASH.get(self._hasher), password)


class _DummyHash:
    def __init__(self) -> None:
        self._by_params: dict[tuple[int, int, int], str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        if key not in self._by_params:
            self._by_params[key] = hasher.hash("puhui-dummy-password")
        return self._by_params[key]


_DUMMY_HASH = _DummyHash()


def check_strength(password: str) -> None:
    """Refuse passwords shorter than 12 characters or made of one kind of character."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"password is {len(password)} characters; at least {MIN_PASSWORD_LENGTH} are required"
        )
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 2:
        raise WeakPasswordError("password needs at least two of: lower, upper, digits, symbols")
