"""Credit-report authorization (征信授权): consent records, Ed25519 signing with key rotation,
the hash-chained consent log and its verification.

``records``, ``signing`` and ``ledger`` are pure; ``keyfile`` reads and writes the private key
file; ``service`` runs the use cases against the operational store.
"""

from puhui.actions.consent.ledger import ConsentStatus, LedgerReport, verify_ledger
from puhui.actions.consent.records import (
    ConsentError,
    ConsentGrant,
    ConsentRevocation,
    ConsentScope,
    VerificationEvidence,
    VerificationKind,
)
from puhui.actions.consent.signing import ConsentSignatureError, Keyring, PublicKey, Signer

__all__ = [
    "ConsentError",
    "ConsentGrant",
    "ConsentRevocation",
    "ConsentScope",
    "ConsentSignatureError",
    "ConsentStatus",
    "Keyring",
    "LedgerReport",
    "PublicKey",
    "Signer",
    "VerificationEvidence",
    "VerificationKind",
    "verify_ledger",
]
