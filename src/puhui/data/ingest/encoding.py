"""Telling UTF-8 from GBK/GB18030, and handing Polars clean UTF-8.

Chinese source systems still export GBK (Excel's "CSV" on a Chinese Windows), often next to UTF-8
with a byte-order mark. A file is checked by decoding it strictly in chunks, so memory stays flat
for multi-gigabyte deliveries: valid UTF-8 is used as is, otherwise valid GB18030 (a superset of
GBK) is transcoded to a temporary UTF-8 file; anything else is refused with the byte offset.

Short GBK text can happen to be valid UTF-8 (each GBK pair whose second byte is 0x80-0xBF reads
as a two-byte UTF-8 character). Chinese in UTF-8 takes three bytes a character, so a file that is
valid UTF-8 with two-byte characters only, and also valid GB18030, is taken to be GBK.
"""

from __future__ import annotations

import codecs
import re
import shutil
from pathlib import Path
from typing import Literal

from puhui.data.ingest.errors import EncodingError

RequestedEncoding = Literal["auto", "utf-8", "gbk"]
Detected = Literal["utf-8", "utf-8-sig", "gb18030"]
ENCODINGS: tuple[RequestedEncoding, ...] = ("auto", "utf-8", "gbk")

_CHUNK = 1 << 24
_UTF8_BOM = codecs.BOM_UTF8
_FOREIGN_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "UTF-32 (byte-order mark)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (byte-order mark)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (byte-order mark)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (byte-order mark)"),
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
)


def first_invalid_byte(path: Path, codec: str, start: int = 0) -> int | None:
    """Offset of the first byte that does not decode in ``codec``, or None if all of it does."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset = start
    with open(path, "rb") as handle:
        handle.seek(start)
        while chunk := handle.read(_CHUNK):
            pending = len(decoder.getstate()[0])
            if not pending and chunk.isascii():  # ASCII is valid in both codecs; skip decoding
                offset += len(chunk)
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset - pending + error.start
            offset += len(chunk)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            return offset - pending + error.start
    return None


_LONG_UTF8_LEAD = re.compile(rb"[\xe0-\xf4]")
_SHORT_UTF8_LEAD = re.compile(rb"[\xc2-\xdf]")


def _has_only_two_byte_characters(path: Path) -> bool:
    """Whether a valid UTF-8 file has non-ASCII characters, all of them two bytes long."""
    short = False
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if chunk.isascii():
                continue
            if _LONG_UTF8_LEAD.search(chunk):
                return False
            short = short or bool(_SHORT_UTF8_LEAD.search(chunk))
    return short


def _byte_at(path: Path, offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return f"0x{handle.read(1).hex().upper()}"


def detect_encoding(path: Path, requested: RequestedEncoding = "auto") -> Detected:
    """The encoding a text file is in, or an error naming the file and the offending offset."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    for signature, what in _FOREIGN_SIGNATURES:
        if head.startswith(signature):
            raise EncodingError(
                f"{path}: looks like {what}, not a UTF-8 or GBK text file; "
                "export it as CSV in UTF-8 or GBK"
            )
    bom = head.startswith(_UTF8_BOM)
    if requested in ("auto", "utf-8"):
        utf8_error = first_invalid_byte(path, "utf-8", start=len(_UTF8_BOM) if bom else 0)
        if utf8_error is None:
            if bom or requested == "utf-8" or not _has_only_two_byte_characters(path):
                return "utf-8-sig" if bom else "utf-8"
            if first_invalid_byte(path, "gb18030") is not None:
                return "utf-8"
            return "gb18030"
        if requested == "utf-8" or bom:
            raise EncodingError(
                f"{path}: not valid UTF-8: byte {_byte_at(path, utf8_error)} at offset "
                f"{utf8_error} does not decode"
            )
    gb_error = first_invalid_byte(path, "gb18030")
    if gb_error is None:
        return "gb18030"
    if requested == "gbk":
        raise EncodingError(
            f"{path}: not valid GBK/GB18030: byte {_byte_at(path, gb_error)} at offset "
            f"{gb_error} does not decode"
        )
    raise EncodingError(
        f"{path}: neither UTF-8 nor GBK/GB18030: UTF-8 fails at byte offset {utf8_error} "
        f"({_byte_at(path, utf8_error)}), GB18030 at byte offset {gb_error} "
        f"({_byte_at(path, gb_error)}); re-save the file as UTF-8"
    )


def as_utf8(path: Path, detected: Detected, workdir: Path) -> Path:
    """A UTF-8 file without byte-order mark holding the same text: ``path`` itself if it is one."""
    if detected == "utf-8":
        return path
    target = workdir / f"{path.stem}.utf8{path.suffix}"
    with open(path, "rb") as source, open(target, "wb") as sink:
        if detected == "utf-8-sig":
            source.seek(len(_UTF8_BOM))
            shutil.copyfileobj(source, sink, _CHUNK)
        else:
            decoder = codecs.getincrementaldecoder(detected)("strict")
            while chunk := source.read(_CHUNK):
                sink.write(decoder.decode(chunk).encode("utf-8"))
            sink.write(decoder.decode(b"", final=True).encode("utf-8"))
    return target
