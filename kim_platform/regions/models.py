"""The region table: all four administrative levels in one table keyed by Kemendagri code."""
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.extensions import db
from kim_platform.regions.codes import LEVELS

# Byte-wise collation: ordering by code is numeric and `code LIKE '76.04.%'` can use the btree.
CODE_TYPE = String(13, collation="C")


class Region(db.Model):
    __tablename__ = "region"
    __table_args__ = (
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        CheckConstraint(
            "kind IN ('provinsi', 'kabupaten', 'kota', 'kecamatan', 'desa', 'kelurahan')", name="kind"
        ),
        Index("ix_region_parent_code", "parent_code"),
        Index("ix_region_level_code", "level", "code"),
        Index("ix_region_search_name_prefix", "search_name", postgresql_ops={"search_name": "text_pattern_ops"}),
        Index(
            "ix_region_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
    )

    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(CODE_TYPE, ForeignKey("region.code"))
    # normalise_name(name): lower case, no accents or punctuation; trigram-indexed.
    search_name: Mapped[str] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)
    centroid = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    # desa/kelurahan under the region (1 for a desa), set by the loader
    desa_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

    @property
    def label(self) -> str:
        return region_label(self.level, self.kind, self.name)

    @property
    def title(self) -> str:
        return region_title(self.level, self.kind, self.name)


def region_label(level: str, kind: str, name: str) -> str:
    """Short official form used in paths: "Kec. Tapalang", "Kab. Mamuju", "Prov. Sulawesi Barat"."""
    if level == "provinsi":
        return f"Prov. {name}"
    if level == "kabupaten":
        return "Kab. " + name[len("Kabupaten "):] if name.startswith("Kabupaten ") else name
    if level == "kecamatan":
        return f"Kec. {name}"
    return f"Kel. {name}" if kind == "kelurahan" else f"Desa {name}"


def region_title(level: str, kind: str, name: str) -> str:
    """Full official form used as a heading: "Kecamatan Tapalang", "Kabupaten Mamuju"."""
    if level == "provinsi":
        return f"Provinsi {name}"
    if level == "kabupaten":
        return name
    if level == "kecamatan":
        return f"Kecamatan {name}"
    return f"Kelurahan {name}" if kind == "kelurahan" else f"Desa {name}"
