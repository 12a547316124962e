"""The modelling layer's own errors; each message names the model, version, column or file."""

from __future__ import annotations

from puhui.errors import PuhuiError


class ModelError(PuhuiError):
    """Something about a model, its data or its artifacts is wrong."""


class TrainingDataError(ModelError):
    """The frame handed to training lacks a column, has no events, or has an unusable target."""


class ArtifactError(ModelError):
    """A model artifact on disk is missing, unreadable or of an unknown kind."""


class RegistryError(ModelError):
    """The registry refuses a request: unknown model or version, or an impossible transition."""
