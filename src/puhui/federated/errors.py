"""The joint-modelling layer's own errors; each message names the node, job, header or file."""

from __future__ import annotations

from puhui.errors import PuhuiError


class FederatedError(PuhuiError):
    """Something about a joint-modelling node, job or its data is wrong."""


class AuthenticationError(FederatedError):
    """A message's signature, sender, timestamp or nonce does not check out."""


class ReplayError(AuthenticationError):
    """A message reuses a nonce already seen (a replay) or is outside the time window."""


class PeerError(FederatedError):
    """The peer node refused a request or could not be reached."""


class PartyDataError(FederatedError):
    """A party's data directory lacks its table, a column, or has duplicate identifiers."""


class JobError(FederatedError):
    """A joint job is unknown, in the wrong state, or its parameters are inconsistent."""
