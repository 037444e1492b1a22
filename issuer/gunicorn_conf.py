"""gunicorn settings for the issuer: ``gunicorn -c python:issuer.gunicorn_conf 'issuer:create_app()'``.

The address and the number of workers are given on the command line. The issuer stands
behind a buffering reverse proxy (docs/deploy-issuer.md): the proxy waits for slow clients
and hands gunicorn whole requests. What is here bounds what a slow client costs when one
reaches gunicorn all the same.
"""

import gc
import os
import shutil
import tempfile
from pathlib import Path

from gunicorn import glogging

from shared import logs

# Sync workers: one request at a time each, so raise --workers for more at once. A worker
# that a client keeps waiting (a slowloris trickling its headers) sends no heartbeat and is
# cut at `timeout`, and a new one takes its place. A thread of the gthread worker (--threads)
# waiting on such a client is never cut: its worker's heartbeat goes on.
worker_class = "sync"
threads = 1
# Seconds a worker may spend on one request, reading it included. The issuer's slowest
# answers (the console over a month) take well under a second.
timeout = 20
graceful_timeout = 20
# The request line and headers: a phone's request is far below these.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# gunicorn's own lines and the issuer's in one format (shared.logs); its access log is off,
# the issuer writes its own (issuer.web.monitoring).
logconfig_dict = logs.dict_config()


class Logger(glogging.Logger):
    """gunicorn's own lines without its access lines. With a logging configuration given,
    gunicorn builds every request's access line (its atoms, a log record) even though no
    handler prints it: the issuer writes its own (issuer.web.monitoring)."""

    access_log_enabled = False

    def access(self, resp, req, environ, request_time) -> None:
        pass


logger_class = Logger
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def post_worker_init(worker) -> None:
    """Once the app is loaded in a worker, keep what loading made (Flask, SQLAlchemy,
    Jinja: about 180,000 objects that live as long as the process) out of the cyclic
    collector. Without this, a request that holds many objects at once (the console's
    Validators table: one per validator) sets off full collections that go over all of
    them, about 90 ms each, every few requests."""
    gc.freeze()


def on_starting(server) -> None:
    """Each worker counts its metrics in files of its own in PROMETHEUS_MULTIPROC_DIR, and
    /metrics adds them up (issuer.web.monitoring): the directory given, emptied of the last run's
    counts, else a new one for this run."""
    directory = os.environ.get(METRICS_DIR)
    if directory:
        for old in Path(directory).glob("*.db"):
            old.unlink()
    else:
        server.vexe_metrics_dir = tempfile.mkdtemp(prefix="vexe-metrics-")
        os.environ[METRICS_DIR] = server.vexe_metrics_dir


def child_exit(server, worker) -> None:
    """A worker gone: its gauges' live values go with it (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    made = getattr(server, "vexe_metrics_dir", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
