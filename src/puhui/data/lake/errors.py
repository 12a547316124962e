"""What can go wrong with the lake, each failure naming the table, batch or file at fault."""

from __future__ import annotations

from puhui.errors import PuhuiError


class LakeError(PuhuiError):
    """The Parquet lake refused an operation."""


class LakeLayoutError(LakeError):
    """The lake's folder or a batch id cannot be used as a path (e.g. it contains ``=``)."""


class LakeSchemaError(LakeError):
    """A frame handed to the lake does not match its table's canonical schema."""


class BatchExistsError(LakeError):
    """A batch with this id is already committed; batches are immutable."""


class LakeWriteError(LakeError):
    """Writing a batch failed part-way; the files already moved were rolled back."""


class TableNotInLakeError(LakeError):
    """A table has no committed batch in the lake yet."""


class ManifestError(LakeError):
    """A manifest file is unreadable or malformed; the message names the file."""
