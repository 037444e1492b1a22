"""Ridership: companies and vehicles, trips, journeys, the rollups, validators' state,
cloned-pass alerts and the stream entries turned away.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PRODUCT = sa.String(48)
ROUTE = sa.String(16)
THREE = ("boardings", "alightings", "refusals")
# name: (key columns, counters), as in backoffice.models
ROLLUPS = {
    "ride_hour": ([("hour", sa.BigInteger()), ("product", PRODUCT)], THREE),
    "ride_hour_route": ([("hour", sa.BigInteger()), ("route", ROUTE), ("product", PRODUCT)],
                        THREE),
    "ride_day_route": ([("day", sa.BigInteger()), ("route", ROUTE), ("product", PRODUCT)], THREE),
    "ride_day_stop": ([("day", sa.BigInteger()), ("route", ROUTE), ("stop", sa.String(32))],
                      THREE),
    "ride_day_vehicle": ([("day", sa.BigInteger()), ("vehicle", sa.String(32)),
                          ("product", PRODUCT)], THREE),
    "ride_day_company": ([("day", sa.BigInteger()), ("company", sa.String(16)),
                          ("product", PRODUCT)], THREE),
    "ride_day_validator": ([("day", sa.BigInteger()), ("validator", sa.String(64))],
                           ("scans", "refusals")),
    "refusal_hour": ([("hour", sa.BigInteger()), ("reason", sa.String(32))], ("refusals",)),
    "od_day": ([("day", sa.BigInteger()), ("route", ROUTE), ("origin", sa.String(32)),
                ("destination", sa.String(32))], ("journeys",)),
}


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_companies")),
    )
    op.create_table(
        "vehicles",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("company_code", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["company_code"], ["companies.code"],
                                name=op.f("fk_vehicles_company_code_companies")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_vehicles")),
    )
    op.create_index(op.f("ix_vehicles_company_code"), "vehicles", ["company_code"])
    op.create_table(
        "trips",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("validator", sa.String(64), nullable=False),
        sa.Column("vehicle", sa.String(32), nullable=False),
        sa.Column("route", ROUTE, nullable=False),
        sa.Column("stop", sa.String(32), nullable=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("pass_id", sa.String(16), nullable=True),
        sa.Column("product", sa.String(16), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("proof_at", sa.BigInteger(), nullable=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("company", sa.String(16), nullable=True),
        sa.Column("stream_ms", sa.BigInteger(), nullable=False),
        sa.Column("ingested_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trips")),
    )
    op.create_index("ix_trips_pass_id_at_ms", "trips", ["pass_id", "at_ms"])
    op.create_table(
        "journeys",
        sa.Column("boarding_id", sa.String(32), nullable=False),
        sa.Column("pass_id", sa.String(16), nullable=False),
        sa.Column("vehicle", sa.String(32), nullable=False),
        sa.Column("route", ROUTE, nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("origin_stop", sa.String(32), nullable=False),
        sa.Column("boarded_ms", sa.BigInteger(), nullable=False),
        sa.Column("alighting_id", sa.String(32), nullable=True),
        sa.Column("destination_stop", sa.String(32), nullable=True),
        sa.Column("alighted_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("boarding_id", name=op.f("pk_journeys")),
    )
    op.create_index("ix_journeys_pass_id_boarded_ms", "journeys", ["pass_id", "boarded_ms"])
    for name, (keys, counters) in ROLLUPS.items():
        op.create_table(
            name,
            *[sa.Column(column, kind, nullable=False) for column, kind in keys],
            *[sa.Column(column, sa.BigInteger(), nullable=False) for column in counters],
            sa.PrimaryKeyConstraint(*[column for column, _ in keys], name=op.f(f"pk_{name}")),
        )
    op.create_index("ix_od_day_route_day", "od_day", ["route", "day"])
    op.create_table(
        "validator_status",
        sa.Column("validator", sa.String(64), nullable=False),
        sa.Column("vehicle", sa.String(32), nullable=False),
        sa.Column("route", ROUTE, nullable=False),
        sa.Column("last_scan_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_sync_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ingest_ms", sa.BigInteger(), nullable=False),
        sa.Column("sync_delay_ms", sa.BigInteger(), nullable=False),
        sa.Column("clock_offset_s", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("validator", name=op.f("pk_validator_status")),
    )
    op.create_table(
        "clone_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.String(16), nullable=False),
        sa.Column("first_trip_id", sa.String(32), nullable=False),
        sa.Column("second_trip_id", sa.String(32), nullable=False),
        sa.Column("first_vehicle", sa.String(32), nullable=False),
        sa.Column("second_vehicle", sa.String(32), nullable=False),
        sa.Column("first_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("second_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.CheckConstraint("status IN ('open', 'dismissed', 'revoked')",
                           name=op.f("ck_clone_alerts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clone_alerts")),
        sa.UniqueConstraint("first_trip_id", "second_trip_id",
                            name=op.f("uq_clone_alerts_first_trip_id_second_trip_id")),
    )
    op.create_index(op.f("ix_clone_alerts_pass_id"), "clone_alerts", ["pass_id"])
    op.create_index("ix_clone_alerts_status_created_ms", "clone_alerts", ["status", "created_ms"])
    op.create_table(
        "ingest_rejects",
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(300), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ingest_rejects")),
    )


def downgrade() -> None:
    for name in ["ingest_rejects", "clone_alerts", "validator_status", *reversed(ROLLUPS),
                 "journeys", "trips", "vehicles", "companies"]:
        op.drop_table(name)
