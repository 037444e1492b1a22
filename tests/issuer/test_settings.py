"""The settings: read once, typed and checked at start with one line naming the variable; one
table of them in docs/operations.md; and a database not at this version's schema refused at
start, with the command that fixes it (``vexe db status``, ``vexe db upgrade``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from issuer import create_app
from issuer.platform import db, partitions, settings
from issuer.platform.errors import NotReady
from shared import clock
from tests.testkit import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
VEXE = str(Path(sys.executable).parent / "vexe")


def environment(**settings_: str) -> dict[str, str]:
    """This process's environment with no VEXE_ variable but the ones given."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VEXE_")}, **settings_}


def run_vexe(*args: str, env: dict, cwd: Path | None = None, timeout: float = 120):
    return subprocess.run([VEXE, *args], env=environment(**env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def one_line(out: subprocess.CompletedProcess) -> str:
    """The refusal of a command that must fail: exit 1, one line on stderr, no traceback."""
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


class TestTypes:
    def test_a_secret_that_looks_like_a_number_stays_text(self, initialised, monkeypatch):
        """Flask's from_prefixed_env read every variable as JSON: 1e3 became '1000.0'."""
        monkeypatch.setenv("VEXE_OIDC_CLIENT_SECRET", "1e3")
        monkeypatch.setenv("VEXE_OIDC_CLIENT_ID", "007")
        app = create_app({**initialised, "TESTING": True})
        assert app.config["OIDC_CLIENT_SECRET"] == "1e3"
        assert app.config["OIDC_CLIENT_ID"] == "007"

    @pytest.mark.parametrize("variable, value, message", [
        ("VEXE_TRUSTED_PROXIES", "one", "VEXE_TRUSTED_PROXIES must be a number of proxies, "
                                        "0 to 10, got 'one'"),
        ("VEXE_TRUSTED_PROXIES", "-1", "VEXE_TRUSTED_PROXIES must be a number of proxies, "
                                       "0 to 10, got '-1'"),
        ("VEXE_SALES_OPEN_DAY", "31", "VEXE_SALES_OPEN_DAY must be a day of the month, 1 to 28, "
                                      "got '31'"),
        ("VEXE_CREDENTIAL_LIFETIME", "true", "VEXE_CREDENTIAL_LIFETIME must be seconds, "
                                             "60 to 2678400, got 'true'"),
        ("VEXE_SESSION_COOKIE_SECURE", "maybe", "VEXE_SESSION_COOKIE_SECURE must be true or "
                                                "false, got 'maybe'"),
        ("VEXE_INGEST_MAX_AGE_DAYS", "nan", "VEXE_INGEST_MAX_AGE_DAYS must be days, 1 to 3660, "
                                            "got 'nan'"),
        ("VEXE_REDIS_URL", "127.0.0.1:6379", "VEXE_REDIS_URL must be a Redis URL such as "
                                             "redis://HOST:6379/0, got '127.0.0.1:6379'"),
        ("VEXE_DATABASE_URL", "postgres", "VEXE_DATABASE_URL must be a database URL"),
    ])
    def test_a_bad_value_is_one_line_naming_the_variable(self, cli, variable, value, message):
        assert message in cli.fails("route", "list", code=1, env={variable: value})

    def test_the_app_refuses_a_bad_value_at_start(self, initialised, monkeypatch):
        monkeypatch.setenv("VEXE_TRUSTED_PROXIES", "two")
        with pytest.raises(NotReady, match="VEXE_TRUSTED_PROXIES must be a number of proxies"):
            create_app({**initialised, "TESTING": True})

    def test_numbers_and_flags_are_typed(self, initialised, monkeypatch):
        for variable, value in (("VEXE_TRUSTED_PROXIES", " 2"), ("VEXE_SESSION_COOKIE_SECURE", "no"),
                                ("VEXE_SALES_OPEN_DAY", "15"), ("VEXE_INGEST_RETAIN_MINUTES", "0.5")):
            monkeypatch.setenv(variable, value)
        loaded = settings.load({"DATA_DIR": initialised["DATA_DIR"]})
        assert loaded["TRUSTED_PROXIES"] == 2 and loaded["SALES_OPEN_DAY"] == 15
        assert loaded["SESSION_COOKIE_SECURE"] is False
        assert loaded["INGEST_RETAIN_MINUTES"] == 0.5

    def test_a_password_in_a_refused_url_is_not_shown(self, cli):
        line = cli.fails("route", "list", code=1, env={"VEXE_REDIS_URL": "tcp://:hunter2@h:1/0"})
        assert "hunter2" not in line and "***" in line


class TestDataDirectory:
    def test_a_relative_one_is_made_absolute_and_shown_at_start(self, tmp_path, redis_url):
        """Started in another directory than the one ``vexe init`` ran in, the issuer
        answered 503 to everything; now it says where it looked and what to run."""
        home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
        home.mkdir()
        elsewhere.mkdir()
        env = {"VEXE_DATA_DIR": "var", "VEXE_REDIS_URL": redis_url}
        assert run_vexe("init", env=env, cwd=home).returncode == 0
        refused = one_line(run_vexe("serve", "--port", str(free_port()), env=env, cwd=elsewhere))
        assert refused == (f"vexe: the database sqlite:///{elsewhere / 'var' / 'vexe.db'} "
                           f"can't be opened (unable to open database file): run `vexe init`")

        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            proc = subprocess.Popen([VEXE, "serve", "--port", str(port)], cwd=home,
                                    env=environment(**env), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: f"data directory {home / 'var'}," in log.read_text()
                     or proc.poll() is not None, timeout=60, what="the start-up line")
            assert proc.poll() is None, log.read_text()
        finally:
            proc.terminate()
            proc.wait(30)


def downgraded(url: str) -> str:
    """The database one revision below this version's, as an older version left it."""
    command.downgrade(db.alembic_config(url), "-1")
    current = db.current_revision(url)
    assert current is not None and current != db.head_revision()
    return current


class TestSchemaAtHead:
    """On SQLite and PostgreSQL (``database_url``)."""

    def test_an_older_schema_is_refused_until_upgraded(self, initialised, tmp_path):
        url = initialised["DATABASE_URL"]
        older = downgraded(url)
        head = db.head_revision()
        expected = (f"the database is at revision {older}, this version needs {head}: "
                    f"run `vexe db upgrade`")
        with pytest.raises(NotReady) as refused:
            create_app({**initialised, "TESTING": True})
        assert str(refused.value) == expected
        env = {"VEXE_DATA_DIR": initialised["DATA_DIR"], "VEXE_DATABASE_URL": url,
               "VEXE_REDIS_URL": initialised["REDIS_URL"]}
        assert one_line(run_vexe("serve", "--port", str(free_port()), env=env)) == \
            f"vexe: {expected}"
        assert one_line(run_vexe("ingest", "run", "--once", env=env)) == f"vexe: {expected}"

        status = json.loads(run_vexe("db", "status", env=env).stdout)
        assert (status["current"], status["head"], status["up_to_date"]) == (older, head, False)
        assert status["problem"] == expected

        upgraded = run_vexe("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        out = json.loads(upgraded.stdout)
        assert out | {"database": None, "partitions_made": None} == {
            "database": None, "from": older, "to": head, "changed": True,
            "partitions_made": None}
        # PostgreSQL: the migration made this month's and the next; the upgrade, the months
        # back to the ingest's oldest (35 days by default), as the ingest would.
        postgres = url.startswith("postgresql")
        now_ms = int(clock.now() * 1000)
        current = partitions.month_of(now_ms)
        back = [partitions.name_of(*m) for m in partitions.months(
            partitions.month_of(now_ms - 35 * 86400_000), current) if m != current]
        assert out["partitions_made"] == (back if postgres else [])
        status = json.loads(run_vexe("db", "status", env=env).stdout)
        assert status["up_to_date"] is True and status["problem"] is None
        if postgres:
            assert status["trips_partitions"] == sorted([
                *back, partitions.name_of(*current),
                partitions.name_of(*partitions.following(*current)), "trips_default"])
        else:
            assert "trips_partitions" not in status
        again = json.loads(run_vexe("db", "upgrade", env=env).stdout)
        assert again["changed"] is False and again["partitions_made"] == []

        assert create_app({**initialised, "TESTING": True}).test_client().get(
            "/readyz").status_code == 200
        ran = run_vexe("ingest", "run", "--once", env=env)
        assert ran.returncode == 0 and json.loads(ran.stdout)["entries"] == 0, ran.stderr

    def test_a_schema_from_a_newer_version_is_refused_and_not_upgraded(self, initialised):
        url = initialised["DATABASE_URL"]
        with db.engine(url).begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        env = {"VEXE_DATA_DIR": initialised["DATA_DIR"], "VEXE_DATABASE_URL": url}
        line = one_line(run_vexe("db", "upgrade", env=env))
        assert "revision 9999, which this version of vexe does not know" in line
        with pytest.raises(NotReady, match="does not know"):
            create_app({**initialised, "TESTING": True})

    def test_init_still_upgrades(self, initialised, bare_cli):
        downgraded(initialised["DATABASE_URL"])
        assert bare_cli.json("init")["created"] == ["database"]
        assert db.current_revision(initialised["DATABASE_URL"]) == db.head_revision()


class TestTable:
    """docs/operations.md, "Settings": one row per setting, and every setting the code
    reads has its row."""

    @staticmethod
    def rows() -> dict[str, list[str]]:
        text = (ROOT / "docs" / "operations.md").read_text()
        section = re.search(r"^## Settings\n(.*?)(?=^## )", text, re.S | re.M)
        assert section, "docs/operations.md: no section Settings"
        rows = {}
        for line in section.group(1).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| `VEXE_"):
                rows[cells[0].strip("`")] = cells[1:]
        return rows

    def test_every_setting_has_its_row_with_its_type_and_default(self):
        rows = self.rows()
        assert set(rows) == {s.variable for s in settings.SETTINGS}
        for setting in settings.SETTINGS:
            kind, default, what = rows[setting.variable]
            assert kind and what, setting.variable
            if setting.default is not None:
                assert f"`{setting.default}`" in default, (setting.variable, default)

    def test_every_variable_the_code_names_is_in_the_table(self):
        """A setting read anywhere but issuer.platform.settings (a click envvar, os.environ) shows
        here by its name. The validator has its own configuration file (docs/validator.md)."""
        rows = self.rows()
        named = set()
        for part in ("issuer", "vexe", "idp", "shared"):
            for path in (ROOT / part).rglob("*.py"):
                named |= set(re.findall(r"VEXE_[A-Z][A-Z_]*[A-Z]", path.read_text()))
        assert named, "found no variable at all: the scan is broken"
        assert named - set(rows) == set()
