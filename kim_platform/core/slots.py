"""Slots: a page or answer owned by a lower domain shows parts that belong to a higher one.

Layers only point down (docs/architecture.md), yet the KIM profile (kims) shows the KIM's reports
(activities) and its score (teladan), the region page (regions) the latest reports, the account page
and `/api/v1/me` (accounts) the user's KIMs. The lower domain does not import the higher one; it
declares a named `Slot` in its `slots.py`, and the higher domain fills it from its `init_app`:

    # kims/slots.py (the owner of the page)
    PROFILE = Slot("kim_profile", "sections of a KIM profile below the actions", template=True)

    # activities/__init__.py (the domain above, which knows both)
    PROFILE.register(app, "activities.recent", panels.kim_reports, template="activities/_kim_panel.html")

    # templates/kims/profile.html (one call where the panels go, in order)
    {{ panels("kim_profile", kim=kim, viewer=current_user) }}

Two kinds of slot:

- an **HTML slot** (`template=True`) holds panels: a function of the page's keyword arguments that
  returns the context of its template, or None to show nothing (its visibility rule); the slot renders
  each panel's template in order (templates escape, so a panel cannot inject raw HTML);
- a **data slot** holds functions whose results the owner combines: the fields a section adds to an
  API answer (`api_me`), or a SQL condition a query ORs in (`user_directory.connected`). `collect()`
  returns the results in order, None dropped.

Each entry has an `order` (lower first, then by name) so pages stay stable whatever order the domains
are initialised in. A panel reads what it shows in batch, like any page: one query per panel, not per
row, so the page's statement count stays flat (tests/test_statement_counts.py).
"""
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app, render_template
from markupsafe import Markup

EXTENSION = "kim_slots"
_declared: dict[str, "Slot"] = {}


@dataclass(frozen=True)
class Entry:
    name: str
    func: Callable[..., Any]
    order: int
    template: str | None


class Slot:
    """A named place in a lower domain's page, answer or query that higher domains fill."""

    def __init__(self, name: str, doc: str, *, template: bool = False):
        if name in _declared:
            raise ValueError(f"slot {name!r} is declared twice")
        self.name, self.doc, self.html = name, doc, template
        _declared[name] = self

    def __repr__(self) -> str:
        return f"<Slot {self.name}>"

    def register(self, app, name: str, func: Callable[..., Any], *, order: int = 100,
                 template: str | None = None) -> None:
        """Fill this slot in `app` with `func` (from the filling domain's init_app)."""
        if self.html and not template:
            raise ValueError(f"slot {self.name!r} renders panels: give the panel's template")
        if not self.html and template:
            raise ValueError(f"slot {self.name!r} is a data slot: it renders no template")
        entries = app.extensions.setdefault(EXTENSION, {}).setdefault(self.name, [])
        if any(entry.name == name for entry in entries):
            raise ValueError(f"{name!r} is already registered in slot {self.name!r}")
        entries.append(Entry(name, func, order, template))
        entries.sort(key=lambda entry: (entry.order, entry.name))

    def entries(self) -> list[Entry]:
        """What fills this slot in the current app, in order."""
        return list(current_app.extensions.get(EXTENSION, {}).get(self.name, ()))

    def collect(self, **context) -> list[Any]:
        """Each function's result for this page, in order; None (nothing to show) is dropped."""
        results = (entry.func(**context) for entry in self.entries())
        return [result for result in results if result is not None]

    def render(self, **context) -> Markup:
        """The panels of an HTML slot, each rendered with its template, in order."""
        if not self.html:
            raise TypeError(f"slot {self.name!r} is a data slot: collect() it")
        parts = []
        for entry in self.entries():
            values = entry.func(**context)
            if values is not None:
                parts.append(Markup(render_template(entry.template, **values)))
        return Markup("\n").join(parts)


def slot(name: str) -> Slot:
    """The slot declared under `name` (an unknown name is a mistake, not an empty slot)."""
    try:
        return _declared[name]
    except KeyError:
        raise LookupError(f"no slot {name!r} is declared (declared: {sorted(_declared)})") from None


def render_panels(name: str, **context) -> Markup:
    """`{{ panels("kim_profile", kim=kim, viewer=current_user) }}` in a page's template."""
    return slot(name).render(**context)


def init_app(app) -> None:
    app.extensions.setdefault(EXTENSION, {})
    app.jinja_env.globals["panels"] = render_panels
