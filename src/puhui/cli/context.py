"""What every sub-command shares: the consoles and the settings of this invocation."""

from __future__ import annotations

from rich.console import Console

from puhui.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


class _State:
    settings: Settings | None = None


_state = _State()


def set_settings(settings: Settings) -> None:
    """Fix the settings for this invocation (called by the top-level callback)."""
    _state.settings = settings


def current_settings() -> Settings:
    """The settings for this invocation, loaded lazily so ``--help`` never touches disk."""
    if _state.settings is None:
        _state.settings = load_settings()
    return _state.settings
