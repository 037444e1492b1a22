"""What the hardening tests share: an issuer that signs real credentials, riders with their own
device keys, a Redis that keeps what it acknowledged across a SIGKILL, and process helpers."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from shared import clock, keys, ticket
from shared.redis_keys import TRIPS_STREAM
from shared.trip import Trip

ROUTE = "32"
VEXE = str(Path(sys.executable).parent / "vexe")  # the console script pip installed


class Rider:
    """One pass on one phone: a credential and the device key that signs its proofs."""

    def __init__(self, credential: str, device):
        self.credential = credential
        self.device = device

    def qr(self, at: float) -> str:
        return ticket.encode_qr(self.credential, self.device, at)


class Issuer:
    def __init__(self):
        self.signing_key = keys.new_signing_key()
        self.kid = keys.key_id(self.signing_key)
        self.trust = keys.TrustList([keys.TrustedKey(self.kid, self.signing_key.public_key())])
        self._ids = itertools.count(1)

    def rider(self, *, now: float, product: str = "S", routes: tuple[str, ...] = (ROUTE,),
              month: tuple[int, int] | None = None) -> Rider:
        n = next(self._ids)
        device = keys.new_device_key()
        valid_from, valid_until = clock.month_bounds(*(month or clock.hanoi_month(now)))
        credential = ticket.mint_credential(
            self.signing_key, jti=f"h{n}", pass_id=f"HPASS{n:05d}", product=product,
            routes=list(routes), valid_from=valid_from, valid_until=valid_until,
            device_key=keys.device_public_compressed(device), now=int(now))
        return Rider(credential, device)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll ``condition`` until it is true; the value it returned, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(interval)


class DurableRedis:
    """A private redis-server that writes every command to its append-only file before
    answering (appendfsync always): a SIGKILL loses nothing it acknowledged, as a production
    Redis set up for trips must not."""

    def __init__(self, workdir: Path, port: int | None = None, extra: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
             *self.extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            wait_for(lambda: _pings(client), timeout=20, what="redis-server start")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:  # refused, or still loading its append-only file
        return False


def stream_trips(client: redis.Redis, stream: str = TRIPS_STREAM) -> list[Trip]:
    return [Trip.from_json(fields[b"trip"]) for _, fields in client.xrange(stream)]


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 5.0):
    """(status, JSON answer) of one request; raises OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary directory on a free port, that
    the test may stop and start under a running issuer (never the machine's shared one)."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            pytest.skip("PostgreSQL server binaries are not installed")
        self.bin = bins[-1].parent
        # Not under pytest's temporary directory: that is readable by its owner only, and the
        # server runs as postgres when the tests run as root (it refuses to run as root).
        self.home = Path(tempfile.mkdtemp(prefix="vexe-pg-"))
        self.dir = self.home / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.home, "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> bool:
        out = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 or not check, out.stderr or out.stdout
        return out.returncode == 0

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.home / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash as far as clients can tell: no goodbye on any connection."""
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.home, ignore_errors=True)


class RedisClusterProcesses:
    """A real Redis Cluster: three masters, each with a replica, redis-server processes on
    free loopback ports in a directory of the test's own. Each node writes every command to
    its append-only file before answering. ``kill(port)`` is a SIGKILL."""

    NODE_TIMEOUT_MS = 1000  # a master unreachable this long is failed over

    def __init__(self, workdir: Path, masters: int = 3):
        binary = shutil.which("redis-server")
        if binary is None or shutil.which("redis-cli") is None:
            pytest.skip("redis-server and redis-cli are not installed")
        self.binary = binary
        self.workdir = Path(workdir)
        self.masters = masters
        self.ports: list[int] = []
        # The cluster bus defaults to port + 10000, which may be taken or past 65535.
        self.bus_ports: dict[int, int] = {}
        self.procs: dict[int, subprocess.Popen] = {}
        self.kills = 0

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def _fresh_port(self) -> int:
        """A free port this cluster does not use yet (the kernel may hand one out twice)."""
        taken = set(self.ports) | set(self.bus_ports.values())
        while (port := free_port()) in taken:
            pass
        return port

    def start_node(self, port: int) -> bool:
        """Start the node on ``port``; False if it exited at once (its port or bus port taken:
        a free port is only free until something else binds it)."""
        home = self.workdir / str(port)
        home.mkdir(parents=True, exist_ok=True)
        proc = self.procs[port] = subprocess.Popen(
            [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-port", str(self.bus_ports[port]),
             "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.NODE_TIMEOUT_MS), "--appendonly", "yes",
             "--appendfsync", "always", "--save", "", "--dir", str(home),
             "--logfile", str(home / "redis.log"), "--repl-diskless-sync-delay", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            wait_for(lambda: proc.poll() is not None or _pings(client), timeout=20,
                     what=f"node {port} up")
        finally:
            client.close()
        if proc.poll() is None:
            return True
        del self.procs[port]
        return False

    def create(self) -> None:
        for _ in range(2 * self.masters):
            for _attempt in range(5):
                port = self._fresh_port()
                self.ports.append(port)
                self.bus_ports[port] = self._fresh_port()
                if self.start_node(port):
                    break
                self.ports.remove(port)
                del self.bus_ports[port]
            else:
                raise AssertionError("no free ports for a cluster node in five tries")
        out = subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", "1", "--cluster-yes"], capture_output=True, text=True,
            timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(self.healthy, timeout=30, what="cluster state ok")
        # A replica can take over only once it holds its master's data.
        wait_for(self.replicas_in_sync, timeout=30, what="replicas in sync")

    def replicas_in_sync(self) -> bool:
        synced = 0
        for port in self.alive():
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
            try:
                info = client.info("replication")
            except redis.RedisError:
                return False
            finally:
                client.close()
            if info["role"] == "slave":
                if info.get("master_link_status") != "up":
                    return False
                synced += 1
        return synced == len(self.alive()) // 2

    def info(self, port: int) -> dict:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        try:
            text = client.execute_command("CLUSTER", "INFO").decode()
        finally:
            client.close()
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def healthy(self) -> bool:
        try:
            return all(self.info(p)["cluster_state"] == "ok" for p in self.alive())
        except redis.RedisError:
            return False

    def master_of(self, key: str) -> int:
        client = redis.Redis(host="127.0.0.1", port=self.alive()[0])
        try:
            slot = client.execute_command("CLUSTER", "KEYSLOT", key)
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        finally:
            client.close()
        raise AssertionError(f"no master for {key}")

    def alive(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def kill(self, port: int) -> None:
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(10)
        self.kills += 1

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
