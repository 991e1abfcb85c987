"""PostGIS, pg_trgm and the region table.

Revision ID: cf6b91fe05c5
Revises:
Create Date: 2026-11-22
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "cf6b91fe05c5"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # A no-op when the extensions exist (scripts/db.sh creates them as superuser).
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "region",
        sa.Column("code", sa.String(length=13, collation="C"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("parent_code", sa.String(length=13, collation="C"), nullable=True),
        sa.Column("search_name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column(
            "centroid",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("level IN ('provinsi', 'kabupaten', 'kecamatan', 'desa')", name=op.f("ck_region_level")),
        sa.CheckConstraint(
            "kind IN ('provinsi', 'kabupaten', 'kota', 'kecamatan', 'desa', 'kelurahan')",
            name=op.f("ck_region_kind"),
        ),
        sa.ForeignKeyConstraint(["parent_code"], ["region.code"], name=op.f("fk_region_parent_code_region")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region")),
    )
    op.create_index("ix_region_parent_code", "region", ["parent_code"])
    op.create_index("ix_region_level_code", "region", ["level", "code"])
    op.create_index(
        "ix_region_search_name_prefix", "region", ["search_name"],
        postgresql_ops={"search_name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_region_search_name_trgm", "region", ["search_name"],
        postgresql_using="gin", postgresql_ops={"search_name": "gin_trgm_ops"},
    )
    op.create_index("idx_region_geom", "region", ["geom"], postgresql_using="gist")
    op.create_index("idx_region_centroid", "region", ["centroid"], postgresql_using="gist")


def downgrade():
    op.drop_table("region")
