"""The region table: all four administrative levels in one table keyed by Kemendagri code."""
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Integer, String, Text, func
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
        Index("ix_region_replaced_by", "replaced_by", postgresql_where="replaced_by IS NOT NULL"),
        # the map's count tiles: places of one level inside a tile (maps/tiles.py), an index per
        # level so a z5 tile's 176 kabupaten are not filtered out of 2,900 kecamatan
        Index("ix_region_centroid_kabupaten", "centroid", postgresql_using="gist",
              postgresql_where="level = 'kabupaten'"),
        Index("ix_region_centroid_kecamatan", "centroid", postgresql_using="gist",
              postgresql_where="level = 'kecamatan'"),
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
    # Deferred: a province's boundary is ~45 KB of WKB, and every page that names a KIM's region
    # path loads its province; the boundary is only ever used inside SQL.
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True, deferred=True)
    centroid = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    # desa/kelurahan under the region (1 for a desa), set by the loader
    desa_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A code a Kepmendagri withdrew stays (KIMs, reports and old links keep resolving): the day it
    # stopped, and the code that took over (None for a split or a plain removal).
    retired_on: Mapped[date | None] = mapped_column(Date)
    replaced_by: Mapped[str | None] = mapped_column(CODE_TYPE, ForeignKey("region.code"))

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

    @property
    def is_retired(self) -> bool:
        return self.retired_on is not None

    @property
    def label(self) -> str:
        return region_label(self.level, self.kind, self.name)

    @property
    def title(self) -> str:
        return region_title(self.level, self.kind, self.name)


CHANGE_KINDS = ("new", "remove", "rename", "move", "split", "merge")
# Kinds a mapping file may name (the others the diff finds by itself).
MAPPING_KINDS = ("rename", "move", "split", "merge")


class RegionChange(db.Model):
    """One change a decree made: a new or removed code, a new name, or a code replaced."""

    __tablename__ = "region_change"
    __table_args__ = (
        CheckConstraint(f"kind IN {CHANGE_KINDS}", name="kind"),
        CheckConstraint("old_code IS NOT NULL OR new_code IS NOT NULL", name="codes"),
        Index("ix_region_change_old_code", "old_code"),
        Index("ix_region_change_new_code", "new_code"),
        Index("ix_region_change_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    old_code: Mapped[str | None] = mapped_column(CODE_TYPE)
    new_code: Mapped[str | None] = mapped_column(CODE_TYPE)
    kind: Mapped[str] = mapped_column(String(10))
    old_name: Mapped[str | None] = mapped_column(Text)
    new_name: Mapped[str | None] = mapped_column(Text)
    decree: Mapped[str] = mapped_column(String(200))
    effective_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def region_label(level: str, kind: str, name: str) -> str:
    """Short official form used in paths: "Kec. Tapalang", "Kab. Mamuju", "Prov. Sulawesi Barat"."""
    if level == "provinsi":
        return f"Prov. {name}"
    if level == "kabupaten":
        return "Kab. " + name[len("Kabupaten "):] if name.startswith("Kabupaten ") else name
    if level == "kecamatan":
        return f"Kec. {name}"
    return f"Kel. {name}" if kind == "kelurahan" else f"Desa {name}"


def region_label_sql(region):
    """`region_label` in SQL over `region` (the Region entity or an alias): the same short form,
    for answers PostgreSQL writes (tests compare the two forms on every level and kind)."""
    from sqlalchemy import case, func, literal

    kabupaten = case((func.left(region.name, 10) == "Kabupaten ",
                      literal("Kab. ").concat(func.substr(region.name, 11))), else_=region.name)
    return case(
        (region.level == "provinsi", literal("Prov. ").concat(region.name)),
        (region.level == "kabupaten", kabupaten),
        (region.level == "kecamatan", literal("Kec. ").concat(region.name)),
        (region.kind == "kelurahan", literal("Kel. ").concat(region.name)),
        else_=literal("Desa ").concat(region.name))


def region_title(level: str, kind: str, name: str) -> str:
    """Full official form used as a heading: "Kecamatan Tapalang", "Kabupaten Mamuju"."""
    if level == "provinsi":
        return f"Provinsi {name}"
    if level == "kabupaten":
        return name
    if level == "kecamatan":
        return f"Kecamatan {name}"
    return f"Kelurahan {name}" if kind == "kelurahan" else f"Desa {name}"
