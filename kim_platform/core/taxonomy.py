"""Columns shared by the small taxonomies (bidang, activity types)."""
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column


class TaxonomyMixin:
    """A slug with an Indonesian and an English label and a sort key."""

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    sort: Mapped[int] = mapped_column(Integer, default=100)

    def label(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id
