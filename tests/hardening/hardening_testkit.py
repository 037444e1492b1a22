"""What the hardening tests share: a PostgreSQL and a Redis Cluster of their own, the
validators' environment, and process helpers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from shared import redis_client, redis_functions
from tests.testkit import free_port, pings, wait_for

VEXE = str(Path(sys.executable).parent / "vexe")  # the console script pip installed


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 5.0):
    """(status, JSON answer) of one request; raises OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "X-Vexe-Client": "test"})
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
            wait_for(lambda: proc.poll() is not None or pings(client), timeout=20,
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
        # The functions validators and the ingest call, as the operator loads them.
        client = redis_client.from_url(self.url)
        try:
            redis_functions.load(client)
        finally:
            client.close()
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
