"""``vexe init``, the settings it writes, and the migrations on SQLite and PostgreSQL."""

import json
import os
import stat
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.fernet import Fernet

from issuer import create_app
from issuer.platform import db, partitions, settings
from issuer.platform.models import Base
from issuer_testkit import QR
from shared import ticket

SECRET_FILES = ("sealing.key", "national-id.key", "cookie.key", "operator.token")
TABLES = {"routes", "products", "accounts", "passes", "device_bindings", "credentials",
          "signing_keys"}


class TestInit:
    def test_first_run_creates_everything(self, bare_cli, config):
        """The first run makes the data directory, owner-only secret files, the schema and
        one signing key, and publishes the trust list."""
        out = bare_cli.json("init")
        assert out["changed"] is True
        assert out["created"] == ["data_dir", "sealing.key", "national-id.key", "cookie.key",
                                  "operator.token", "database", "bootstrap_token", "signing_key"]
        assert out["published"] is True
        for name in SECRET_FILES:
            mode = stat.S_IMODE((Path(config["DATA_DIR"]) / name).stat().st_mode)
            assert mode == 0o600
        assert len(bare_cli.json("keys", "list")) == 1

    def test_second_run_changes_nothing_and_says_so(self, bare_cli, config):
        first = bare_cli.json("init")
        data = Path(config["DATA_DIR"])
        files = {name: (data / name).read_text() for name in SECRET_FILES}
        second = bare_cli.json("init")
        assert second["changed"] is False and second["created"] == []
        assert second["message"] == "already initialized; nothing changed"
        assert second["signing_key"] == first["signing_key"]
        assert len(bare_cli.json("keys", "list")) == 1
        for name, text in files.items():
            assert (data / name).read_text() == text

    def test_secrets_from_the_environment_write_no_files(self, bare_cli, config):
        env = {"VEXE_SEALING_KEY": Fernet.generate_key().decode(),
               "VEXE_NATIONAL_ID_KEY": "a" * 64, "VEXE_COOKIE_KEY": "b" * 64,
               "VEXE_OPERATOR_TOKEN": "t" * 40}
        out = bare_cli.json("init", env=env)
        assert not set(SECRET_FILES) & set(out["created"])
        assert not set(SECRET_FILES) & set(os.listdir(config["DATA_DIR"]))

    def test_wrong_secret_key_is_caught_at_init(self, cli):
        other = Fernet.generate_key().decode()
        line = cli.fails("init", code=1, env={"VEXE_SEALING_KEY": other})
        assert "does not open with this sealing key" in line

    def test_commands_before_init_say_so(self, bare_cli, config):
        line = bare_cli.fails("keys", "list", code=1)
        assert "vexe init" in line

    def test_default_database_is_in_the_data_directory(self, bare_cli, tmp_path):
        data = tmp_path / "elsewhere"
        out = bare_cli.json("init", env={"VEXE_DATA_DIR": str(data), "VEXE_DATABASE_URL": ""})
        assert out["database"] == f"sqlite:///{data / 'vexe.db'}"
        assert (data / "vexe.db").exists()

    def test_the_database_is_the_owners_only(self, bare_cli, tmp_path):
        """The SQLite database holds accounts and sealed keys: created readable by its owner
        only, like the data directory around it and the secret files in it, whatever the
        umask."""
        data = tmp_path / "private"
        bare_cli.json("init", env={"VEXE_DATA_DIR": str(data), "VEXE_DATABASE_URL": ""})
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for path in data.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert stat.S_IMODE((data / "vexe.db").stat().st_mode) == 0o600


class TestMigrations:
    def test_upgrade_matches_the_models(self, database_url):
        """The migrations build exactly the tables the models describe."""
        assert db.migrate(database_url) is True
        assert db.migrate(database_url) is False
        with db.engine(database_url).connect() as conn:
            # The trips' partitions (PostgreSQL) are the ingest's, month by month.
            context = MigrationContext.configure(conn, opts={
                "include_name": lambda name, kind, _: not (
                    kind == "table" and partitions.is_partition(name))})
            assert compare_metadata(context, Base.metadata) == []
            assert TABLES <= set(sa.inspect(conn).get_table_names())
            products = conn.execute(sa.text("SELECT code, price_vnd FROM products")).all()
        assert dict(products) == {"single": 100_000, "multi": 200_000, "free": 0}
        db.dispose(database_url)

    def test_downgrade_and_upgrade_again(self, database_url):
        db.migrate(database_url)
        command.downgrade(db.alembic_config(database_url), "base")
        with db.engine(database_url).connect() as conn:
            assert not TABLES & set(sa.inspect(conn).get_table_names())
        assert db.migrate(database_url) is True
        assert db.current_revision(database_url) == db.head_revision()
        db.dispose(database_url)


class TestSettings:
    def test_credential_lifetime_from_the_environment(self, cli):
        env = {"VEXE_CREDENTIAL_LIFETIME": "3600"}
        account = cli.json("account", "create", "--name", "Mai Anh", "--birth-date", "1990-01-01")
        p = cli.json("pass", "issue", account["id"], "--product", "multi")
        text = cli.ok(*QR, p["id"], env=env).stdout.strip()
        claims = ticket.parse_claims(json.loads(ticket.parse_qr(text).payload_json))
        assert claims.exp - claims.nbf == min(3600, p["valid_until"] - claims.nbf)

    def test_bad_lifetime_is_one_line(self, cli):
        line = cli.fails("keys", "list", code=1, env={"VEXE_CREDENTIAL_LIFETIME": "soon"})
        assert line == "vexe: VEXE_CREDENTIAL_LIFETIME must be seconds, 60 to 2678400, got 'soon'"

    def test_unwritable_data_directory_is_one_line(self, bare_cli, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        line = bare_cli.fails("init", code=1, env={"VEXE_DATA_DIR": str(blocker / "data")})
        assert "Not a directory" in line

    def test_app_and_command_line_read_the_same_settings(self, initialised, monkeypatch):
        monkeypatch.setenv("VEXE_REDIS_URL", "redis://127.0.0.1:6399/3")
        app = create_app({"DATA_DIR": initialised["DATA_DIR"],
                          "DATABASE_URL": initialised["DATABASE_URL"]})
        loaded = settings.load({"DATA_DIR": initialised["DATA_DIR"],
                                "DATABASE_URL": initialised["DATABASE_URL"]})
        for name in (setting.name for setting in settings.SETTINGS):
            assert app.config[name] == loaded[name], name
        assert loaded["REDIS_URL"] == "redis://127.0.0.1:6399/3"
        assert loaded["OPERATOR_TOKEN"] and loaded["SEALING_KEY"] and loaded["SECRET_KEY"]
