"""GET /healthz (alive, checks nothing) and GET /readyz (the database, at this version's
schema, and Redis), as a load balancer and a monitor call them."""

from __future__ import annotations

from alembic import command

from issuer import create_app
from issuer.platform import db

AWAY = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


def test_ready_says_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready",
                                   "checks": {"database": "ok", "redis": "ok"}}


def test_a_database_away_is_not_ready_and_still_alive(app):
    """Before, /healthz asked the database: an outage would get every healthy server
    restarted by whatever watches it."""
    app.config["DATABASE_URL"] = AWAY
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json() == {"status": "not ready", "failed": ["database"],
                                   "checks": {"database": "unavailable", "redis": "ok"}}
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_redis_stopped_is_not_ready_until_it_is_back(initialised, redis_server):
    app = create_app({**initialised, "TESTING": True, "REDIS_URL": redis_server.url})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    redis_server.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["redis"]
    assert response.get_json()["checks"] == {"database": "ok", "redis": "unavailable"}
    assert client.get("/healthz").status_code == 200
    redis_server.start()
    assert client.get("/readyz").status_code == 200


def test_a_database_left_behind_by_an_upgrade_is_not_ready(app, client):
    url = app.config["DATABASE_URL"]
    head = db.head_revision()
    command.downgrade(db.alembic_config(url), "-1")
    older = db.current_revision(url)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["failed"] == ["database"]
    assert response.get_json()["checks"]["database"] == \
        f"schema at revision {older}, this version needs {head}"
    command.upgrade(db.alembic_config(url), "head")
    assert client.get("/readyz").status_code == 200


def test_the_icon_a_browser_asks_for_is_the_cards(client):
    """Browsers ask every site for /favicon.ico by themselves: the card's icon, not a 404."""
    from issuer.card.pages import STATIC

    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == (STATIC / "icon-192.png").read_bytes()
    response.close()
