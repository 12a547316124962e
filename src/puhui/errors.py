"""The root of puhui's own exceptions, so the edges can turn them into one-line reasons."""


class PuhuiError(Exception):
    """A failure whose message is fit to show a user as the one-line reason."""
