"""A whole vexe system for a load run, started on this machine and torn down after it.

The issuer runs under gunicorn with several workers on PostgreSQL (a schema of its own in
the ``test`` database) and Redis; riders with passes and phones are made through the
issuer's own HTTP API, and written to a pool file the locustfiles read: pass ids, rider
tokens, credentials and the phones' device keys (load-test keys, nothing else).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa

from shared import keys, redis_functions

PG_URL = os.environ.get("VEXE_LOAD_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VEXE_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
ROUTES = [(f"{n:02d}", f"Tuyến {n:02d}") for n in range(1, 21)]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class System:
    """``with System(workdir) as system:`` an issuer at ``system.issuer_url``, riders in
    ``system.pool_file``, optionally a validator at ``system.validator_url``."""

    def __init__(self, workdir: Path, *, workers: int = 4, riders: int = 50,
                 validator: bool = False, ingest: bool = False, redis_url: str = REDIS_URL):
        self.workdir = Path(workdir)
        self.workers = workers
        self.riders = riders
        self.with_validator = validator
        self.with_ingest = ingest
        self.redis_url = redis_url
        self.schema = f"load_{uuid.uuid4().hex[:10]}"
        self.database_url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        self.pool_file = self.workdir / "pool.json"
        self.issuer_url = ""
        self.validator_url = ""
        self.operator_token = ""
        self.idp_url = ""
        self._procs: list[subprocess.Popen] = []
        self._oidc: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "System":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def env(self) -> dict:
        return {**os.environ, "VEXE_DATA_DIR": str(self.workdir / "data"),
                "VEXE_DATABASE_URL": self.database_url, "VEXE_REDIS_URL": self.redis_url,
                **self._oidc}

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # The load run's Redis database is its own: start from an empty trips stream. The
        # functions the validators call are loaded, as the operator loads them.
        client = redis.Redis.from_url(self.redis_url)
        client.flushdb()
        redis_functions.load(client)
        client.close()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
        engine.dispose()
        subprocess.run([str(BIN / "vexe"), "init"], env=self.env, check=True,
                       capture_output=True)
        self.operator_token = (self.workdir / "data" / "operator.token").read_text().strip()
        # An analyst who signs in to the console with a password, for the operator users.
        password_file = self.workdir / "data" / "analyst.password"
        password_file.write_text(uuid.uuid4().hex + "\n")
        password_file.chmod(0o600)
        subprocess.run([str(BIN / "vexe"), "operator", "create", "analyst", "--role", "analyst",
                        "--password-file", str(password_file)], env=self.env, check=True,
                       capture_output=True)
        self.analyst_password = password_file.read_text().strip()
        port, idp_port = free_port(), free_port()
        # The development e-ID provider keeps its codes in memory: one process, not gunicorn.
        self.idp_url = f"http://127.0.0.1:{idp_port}"
        self._oidc = {"VEXE_OIDC_ISSUER": self.idp_url, "VEXE_OIDC_CLIENT_ID": "vexe",
                      "VEXE_OIDC_CLIENT_SECRET": uuid.uuid4().hex}
        self._spawn([str(BIN / "vexe"), "idp", "serve", "--port", str(idp_port),
                     "--redirect-uri", f"http://127.0.0.1:{port}/signin/callback"], "idp.log")
        self._wait(f"{self.idp_url}/.well-known/openid-configuration")
        self._spawn([str(BIN / "gunicorn"), "-c", "python:issuer.gunicorn_conf", "--workers",
                     str(self.workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                     "issuer:create_app()"],
                    "issuer.log")
        self.issuer_url = f"http://127.0.0.1:{port}"
        self._wait(f"{self.issuer_url}/healthz")
        self._seed()
        if self.with_validator:
            vport = free_port()
            self._spawn([str(BIN / "vexe"), "validator", "run", "--id", "load-1", "--vehicle",
                         "29B-LOAD", "--route", ROUTES[0][0], "--no-stdin", "--http-port",
                         str(vport), "--passback", "0"], "validator.log")
            self.validator_url = f"http://127.0.0.1:{vport}"
            self._wait(f"{self.validator_url}/healthz")
        if self.with_ingest:
            self._spawn([str(BIN / "vexe"), "ingest", "run", "--consumer", "load-ingest-1"],
                        "ingest.log")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs.clear()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        engine.dispose()

    def _spawn(self, argv: list[str], log_name: str) -> None:
        log = open(self.workdir / log_name, "ab")
        self._procs.append(subprocess.Popen(argv, env=self.env, stdout=log, stderr=log,
                                            cwd=self.workdir))
        log.close()

    def _wait(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:  # refused, reset, or workers still loading the app (timeout)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer; see the logs in {self.workdir}")
                time.sleep(0.2)

    # -- riders ------------------------------------------------------------------------------

    def _api(self, method: str, path: str, body: dict | None = None,
             token: str | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.issuer_url}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or self.operator_token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def _seed(self) -> None:
        """Routes, and riders with passes: most on their own phone, some custodial."""
        for code, name in ROUTES:
            self._api("POST", "/api/routes", {"code": code, "name": name})
        pool = []
        for n in range(self.riders):
            elderly = n % 10 == 9
            account = self._api("POST", "/api/accounts", {
                "full_name": f"Hành khách {n:05d}",
                "birth_date": "1950-01-01" if elderly else "1995-06-15"})
            product = ("free" if elderly else "multi" if n % 3 == 0 else "single")
            fields = {"account_id": account["id"], "product": product}
            if product == "single":
                fields["route"] = ROUTES[n % len(ROUTES)][0]
            if product == "free":
                fields["category"] = "elderly"
            issued = self._api("POST", "/api/passes", fields)
            rider = {"pass_id": issued["id"], "rider_token": account["rider_token"],
                     "product": product, "route": fields.get("route", ROUTES[0][0])}
            if elderly:  # no key-holding phone: the issuer makes the QR
                self._api("POST", f"/api/passes/{issued['id']}/custodial", {},
                          account["rider_token"])
                rider["custodial"] = True
            else:
                phone = keys.new_device_key()
                bound = self._api("POST", f"/api/passes/{issued['id']}/device",
                                  {"public_key": keys.device_public_compressed(phone)},
                                  account["rider_token"])
                rider.update(custodial=False, credential=bound["credential"],
                             device_pem=keys.device_private_pem(phone).decode())
            pool.append(rider)
        self.pool_file.write_text(json.dumps({"issuer": self.issuer_url, "idp": self.idp_url,
                                              "analyst": ["analyst", self.analyst_password],
                                              "riders": pool}))


def load_pool(path: str | os.PathLike | None = None) -> dict:
    """The pool a :class:`System` wrote; the path comes from ``VEXE_LOAD_POOL``."""
    path = path or os.environ.get("VEXE_LOAD_POOL")
    if not path:
        raise RuntimeError("VEXE_LOAD_POOL is not set: run the scenario with "
                           "`python -m loadtests.run`, which starts the system")
    return json.loads(Path(path).read_text())


def clean(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
