"""A whole vexe system for a load run, started on this machine and torn down after it.

The issuer runs under gunicorn with several workers on PostgreSQL (a schema of its own in
the ``test`` database) and Redis; riders with passes and phones are made through the
issuer's own HTTP API, and written to a pool file the locustfiles read: pass ids, rider
tokens, credentials and the phones' device keys (load-test keys, nothing else).

With ``payments=True`` the development payment gateway runs beside the issuer and the issuer
takes bank-transfer notifications, for the renewal rush; ``clock_at`` sets the clock of every
process the system starts (libfaketime, an offset from the real clock), so that a run on
any day can be the evening before the month turns.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa

from issuer.platform import upkeep
from shared import clock, keys, redis_functions

PG_URL = os.environ.get("VEXE_LOAD_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VEXE_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
ROUTES = [(f"{n:02d}", f"Tuyến {n:02d}") for n in range(1, 21)]
BIN = Path(sys.executable).parent
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
# The load run's merchant: a terminal at the development gateway and a bank account whose
# statement service posts notifications (the load run plays that service).
TMN_CODE = "VEXELOAD"
BANK = {"VEXE_BANK_BIN": "970436", "VEXE_BANK_ACCOUNT": "0011009999999",
        "VEXE_BANK_ACCOUNT_NAME": "Trung tâm Quản lý và Điều hành Giao thông"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class System:
    """``with System(workdir) as system:`` an issuer at ``system.issuer_url``, riders in
    ``system.pool_file``, optionally a validator at ``system.validator_url``."""

    def __init__(self, workdir: Path, *, workers: int = 4, riders: int = 50,
                 validator: bool = False, ingest: bool = False, redis_url: str = REDIS_URL,
                 payments: bool = False, clock_at: float | None = None):
        self.workdir = Path(workdir)
        self.workers = workers
        self.riders = riders
        self.with_validator = validator
        self.with_ingest = ingest
        self.with_payments = payments
        self.clock_offset = 0 if clock_at is None else round(clock_at - time.time())
        self.redis_url = redis_url
        self.schema = f"load_{uuid.uuid4().hex[:10]}"
        self.database_url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        self.pool_file = self.workdir / "pool.json"
        self.issuer_url = ""
        self.validator_url = ""
        self.operator_token = ""
        self.idp_url = ""
        self.gateway_url = ""
        self._secrets = {"gateway": uuid.uuid4().hex, "bank": uuid.uuid4().hex}
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
                **self._oidc, **self._payments_env(), **self.clock_env}

    @property
    def clock_env(self) -> dict:
        """What sets the clock of a process the system starts (nothing: the real clock)."""
        if not self.clock_offset:
            return {}
        if not FAKETIME_LIB.exists():
            raise RuntimeError(f"{FAKETIME_LIB} is missing: install the Debian package "
                               "faketime to run the system at another time")
        # Monotonic clocks move by the same offset: with them left alone, this libfaketime
        # makes Python's time.sleep fail (EINVAL), and only differences of them are used.
        return {"LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME": f"{self.clock_offset:+d}s"}

    def _payments_env(self) -> dict:
        if not (self.with_payments and self.gateway_url):
            return {}
        return {"VEXE_GATEWAY_URL": self.gateway_url, "VEXE_GATEWAY_TMN_CODE": TMN_CODE,
                "VEXE_GATEWAY_HASH_SECRET": self._secrets["gateway"], **BANK,
                "VEXE_BANK_WEBHOOK_SECRET": self._secrets["bank"],
                # Next month on sale whatever day the run's clock shows.
                "VEXE_SALES_OPEN_DAY": "1"}

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
        if self.with_payments:
            gateway_port = free_port()
            self.gateway_url = f"http://127.0.0.1:{gateway_port}"
            self._spawn([str(BIN / "vexe"), "gateway", "serve", "--port", str(gateway_port),
                         "--tmn-code", TMN_CODE, "--ipn-delay", "0",
                         "--ipn-url", f"http://127.0.0.1:{port}/api/payments/vnpay/ipn"],
                        "gateway.log")
            self._wait(f"{self.gateway_url}/dev/transactions.json")
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
        # Each process leads a group of its own (gunicorn: its master and workers). SIGQUIT
        # is gunicorn's quick stop (a worker waiting for a request would otherwise finish
        # its wait first); then whatever of the group is left is killed, so no worker
        # outlives its master. Under libfaketime gunicorn's master never acts on the signal
        # (its wait for one does not wake): the group is killed after a short grace.
        grace = 3 if self.clock_offset else 15
        for proc in reversed(self._procs):
            _signal_group(proc, signal.SIGQUIT if "gunicorn" in proc.args[0] else
                          signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        self._procs.clear()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        engine.dispose()

    def _spawn(self, argv: list[str], log_name: str) -> None:
        log = open(self.workdir / log_name, "ab")
        self._procs.append(subprocess.Popen(argv, env=self.env, stdout=log, stderr=log,
                                            cwd=self.workdir, start_new_session=True))
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
        # PostgreSQL's statistics of the tables just filled, as a database in service has
        # them (autovacuum): without them the planner may loop over every pass to find one.
        upkeep.analyze(self.database_url)
        sale = self._api("GET", "/api/catalogue")["months_on_sale"]
        self.pool_file.write_text(json.dumps({
            "issuer": self.issuer_url, "idp": self.idp_url, "gateway": self.gateway_url,
            "analyst": ["analyst", self.analyst_password], "riders": pool,
            # What the renewal rush needs: the system's clock and next month, and the bank
            # statement service's secret and account, whose part the load run plays.
            "clock_offset": self.clock_offset, "months_on_sale": sale,
            "bank": {"secret": self._secrets["bank"], "account": BANK["VEXE_BANK_ACCOUNT"]}
            if self.with_payments else None}))


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:  # the whole group is gone already
        pass


def month_turn_evening(now: float | None = None) -> float:
    """20:00 Hanoi time on the 28th of this month: an evening before the month turns (the
    28th is in every month), in the last days when phones are given next month's pass."""
    today = dt.datetime.fromtimestamp(now if now is not None else time.time(), clock.HANOI)
    return today.replace(day=28, hour=20, minute=0, second=0, microsecond=0).timestamp()


def load_pool(path: str | os.PathLike | None = None) -> dict:
    """The pool a :class:`System` wrote; the path comes from ``VEXE_LOAD_POOL``."""
    path = path or os.environ.get("VEXE_LOAD_POOL")
    if not path:
        raise RuntimeError("VEXE_LOAD_POOL is not set: run the scenario with "
                           "`python -m loadtests.run`, which starts the system")
    return json.loads(Path(path).read_text())


def clean(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
