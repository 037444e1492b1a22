"""Journeys are stored when closed: an accepted boarding with no journey row is open.

The open ones were rows of their own and counted in ``od_day`` under the destination "",
which made every journey two writes. They are now counted as the boardings at a stop
(``ride_day_stop``) less the journeys closed from it. Downgrading puts them back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM journeys WHERE alighting_id IS NULL")
    # "" held the open journeys together with the ones closed at a scan with no stop: the
    # latter are counted again from their rows.
    op.execute("DELETE FROM od_day WHERE destination = ''")
    op.execute(
        "INSERT INTO od_day (day, route, origin, destination, journeys) "
        "SELECT day, route, origin_stop, '', COUNT(*) FROM journeys "
        "WHERE destination_stop = '' GROUP BY day, route, origin_stop")


def downgrade() -> None:
    # Every accepted boarding with no closed journey, as an open journey again; the rows
    # under "" then hold both kinds, as they did.
    op.execute(
        "INSERT INTO journeys (boarding_id, pass_id, vehicle, route, day, origin_stop, "
        "boarded_ms) SELECT t.id, t.pass_id, t.vehicle, t.route, s.day, COALESCE(t.stop, ''), "
        "t.at_ms FROM trips t JOIN (SELECT DISTINCT day FROM ride_day_stop) s "
        "ON t.at_ms >= s.day * 1000 AND t.at_ms < (s.day + 86400) * 1000 "
        "WHERE t.decision = 'accept' AND t.mode = 'board' "
        "AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.boarding_id = t.id)")
    op.execute(
        "INSERT INTO od_day (day, route, origin, destination, journeys) "
        "SELECT day, route, origin_stop, '', COUNT(*) FROM journeys "
        "WHERE alighting_id IS NULL GROUP BY day, route, origin_stop "
        "ON CONFLICT (day, route, origin, destination) "
        "DO UPDATE SET journeys = od_day.journeys + excluded.journeys")
