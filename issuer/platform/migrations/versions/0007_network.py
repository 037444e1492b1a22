"""The network from a GTFS feed: routes' company and retirement, stops, each route's ordered
stops and path.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routes") as batch:
        batch.add_column(sa.Column("company_code", sa.String(16), nullable=True))
        batch.add_column(sa.Column("retired_at", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(op.f("fk_routes_company_code_companies"), "companies",
                                 ["company_code"], ["code"])
    op.create_table(
        "stops",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("station", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stops")),
    )
    op.create_index(op.f("ix_stops_station"), "stops", ["station"])
    op.create_table(
        "route_stops",
        sa.Column("route_code", sa.String(16), nullable=False),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stop_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["route_code"], ["routes.code"],
                                name=op.f("fk_route_stops_route_code_routes")),
        sa.ForeignKeyConstraint(["stop_id"], ["stops.id"],
                                name=op.f("fk_route_stops_stop_id_stops")),
        sa.PrimaryKeyConstraint("route_code", "direction", "seq", name=op.f("pk_route_stops")),
    )
    op.create_index(op.f("ix_route_stops_stop_id"), "route_stops", ["stop_id"])
    op.create_table(
        "shape_points",
        sa.Column("route_code", sa.String(16), nullable=False),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["route_code"], ["routes.code"],
                                name=op.f("fk_shape_points_route_code_routes")),
        sa.PrimaryKeyConstraint("route_code", "direction", "seq", name=op.f("pk_shape_points")),
    )


def downgrade() -> None:
    op.drop_table("shape_points")
    op.drop_index(op.f("ix_route_stops_stop_id"), table_name="route_stops")
    op.drop_table("route_stops")
    op.drop_index(op.f("ix_stops_station"), table_name="stops")
    op.drop_table("stops")
    with op.batch_alter_table("routes") as batch:
        batch.drop_constraint(op.f("fk_routes_company_code_companies"), type_="foreignkey")
        batch.drop_column("retired_at")
        batch.drop_column("company_code")
