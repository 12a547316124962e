"""Framing for binary messages: a list of byte strings, each prefixed by its 8-byte length."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from puhui.federated.errors import FederatedError


def pack_blobs(blobs: Sequence[bytes]) -> bytes:
    """``blobs`` as one body: count, then (length, bytes) for each."""
    parts = [struct.pack("<Q", len(blobs))]
    for blob in blobs:
        parts.append(struct.pack("<Q", len(blob)))
        parts.append(blob)
    return b"".join(parts)


def unpack_blobs(body: bytes) -> list[bytes]:
    """The inverse of ``pack_blobs``; refuses a truncated or padded body."""
    try:
        (count,) = struct.unpack_from("<Q", body, 0)
        offset, blobs = 8, []
        for _ in range(count):
            (length,) = struct.unpack_from("<Q", body, offset)
            offset += 8
            if offset + length > len(body):
                raise struct.error("truncated")
            blobs.append(body[offset : offset + length])
            offset += length
    except struct.error as error:
        raise FederatedError("message body is not a framed list of byte strings") from error
    if offset != len(body):
        raise FederatedError("message body has trailing bytes after its framed list")
    return blobs
