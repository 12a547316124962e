"""The workbench's navigation, one entry per capability page (导航注册表).

A capability adds its pages by calling :func:`register_nav` in its web module and listing the
module in ``puhui.web.PAGE_MODULES``: warnings (警报), marketing (营销名单) and origination
(进件) will plug in here the same way the existing pages do.
"""

from __future__ import annotations

from dataclasses import dataclass

from puhui.actions.access import Principal, Role


@dataclass(frozen=True)
class NavItem:
    key: str
    path: str
    zh: str
    en: str
    roles: frozenset[Role]
    order: int = 100
    capability: str = ""

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


_REGISTRY: dict[str, NavItem] = {}


def register_nav(item: NavItem) -> None:
    """Add (or replace, by key) a navigation entry."""
    _REGISTRY[item.key] = item


def nav_for(principal: Principal) -> list[NavItem]:
    """The entries the principal's role may open, in order."""
    items = [item for item in _REGISTRY.values() if principal.role in item.roles]
    return sorted(items, key=lambda item: (item.order, item.key))


def home_path(principal: Principal) -> str:
    items = nav_for(principal)
    return items[0].path if items else "/me"
