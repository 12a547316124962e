"""Identity verification (身份核验) behind one provider interface.

``provider`` (the protocol and its values), ``http_vendor`` (an external vendor over HTTP with
retries and a circuit breaker), ``local`` and ``face`` (offline: a person registry and dlib
face models), ``attempts`` (rate limiting, lock-out and the attempt log).
"""

from puhui.adapters.identity.attempts import AttemptPolicy, GuardedVerifier, InMemoryAttemptLog
from puhui.adapters.identity.provider import (
    CircuitOpenError,
    FaceRequest,
    IdentityError,
    IdentityProvider,
    NoFaceFoundError,
    ThreeFactorRequest,
    VendorError,
    VendorTimeoutError,
    VerificationLockedError,
    VerificationRateLimitedError,
    VerificationResult,
)

__all__ = [
    "AttemptPolicy",
    "CircuitOpenError",
    "FaceRequest",
    "GuardedVerifier",
    "IdentityError",
    "IdentityProvider",
    "InMemoryAttemptLog",
    "NoFaceFoundError",
    "ThreeFactorRequest",
    "VendorError",
    "VendorTimeoutError",
    "VerificationLockedError",
    "VerificationRateLimitedError",
    "VerificationResult",
]
