"""Region outlines prepared for map tiles: reprojected and simplified once, per zoom band."""
from geoalchemy2 import Geometry
from sqlalchemy import Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kim_platform.extensions import db
from kim_platform.regions.models import CODE_TYPE


class RegionTileGeom(db.Model):
    """One row per region with a boundary: Web Mercator, simplified for its zoom band."""

    __tablename__ = "region_tile_geom"

    code: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Number of desa/kelurahan below the region, the denominator of coverage.
    desa_total: Mapped[int] = mapped_column(Integer)
    tolerance_m: Mapped[int] = mapped_column(SmallInteger)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=3857, spatial_index=True), nullable=False)
