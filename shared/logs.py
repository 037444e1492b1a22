"""One logging set-up for every vexe process: the issuer (gunicorn or ``vexe serve``), the
ingest, the validator and the e-ID stand-in.

Every line goes to standard error: one JSON object a line (for journald, a log shipper) when
standard error is not a terminal, plain text when a person runs a command in one.
``VEXE_LOG_FORMAT=json|text`` chooses either way, ``VEXE_LOG_LEVEL`` (DEBUG, INFO, WARNING,
ERROR; INFO by default) how much is said.

A JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, when they
are known, the ids that tie it to the rest: ``request_id`` (the issuer's request), ``pass_id``,
``order_id``, ``validator_id``. A process names its own (``setup(validator_id=...)``), a
request binds its own (:func:`bind`), a call names one (``log.info(..., extra={"pass_id":
...})``). Never a name, a birth date, an ID number, a token or a QR: see docs/operations.md.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.config
import os
import sys

FORMAT_ENV = "VEXE_LOG_FORMAT"
LEVEL_ENV = "VEXE_LOG_LEVEL"
FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The ids a line carries when present, in this order.
IDS = ("request_id", "pass_id", "order_id", "validator_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The ids of what is being done now: a request of the issuer's (set per request, per thread).
_bound: contextvars.ContextVar[dict] = contextvars.ContextVar("vexe_log_ids", default={})
# The ids of the whole process, e.g. a validator's own id.
_process: dict = {}


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        ids = {**_process, **_bound.get()}
        for name in IDS:
            value = getattr(record, name, None) or ids.get(name)
            if value is not None:
                line[name] = value
        for name in getattr(record, "fields", ()):  # e.g. the access log's method and status
            line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """What a person reads in a terminal: time, level, logger, message, and the ids."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = {**_process, **_bound.get()}
        extra = [f"{name}={getattr(record, name, None) or ids.get(name)}" for name in IDS
                 if getattr(record, name, None) or ids.get(name)]
        return " ".join([text, *extra])


class SettingError(ValueError):
    """VEXE_LOG_FORMAT or VEXE_LOG_LEVEL is not one of its values."""


def chosen_format(stream=None) -> str:
    """json or text: the setting, else text on a terminal and JSON elsewhere."""
    wanted = os.environ.get(FORMAT_ENV, "").strip().lower()
    if wanted:
        if wanted not in FORMATS:
            raise SettingError(f"{FORMAT_ENV} must be json or text, got {wanted!r}")
        return wanted
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def chosen_level() -> str:
    level = os.environ.get(LEVEL_ENV, "").strip().upper() or "INFO"
    if level not in LEVELS:
        raise SettingError(f"{LEVEL_ENV} must be one of {', '.join(LEVELS)}, got {level!r}")
    return level


def dict_config() -> dict:
    """The set-up as a ``logging.config.dictConfig`` dictionary (gunicorn takes it as
    ``logconfig_dict``): every logger to one handler on standard error. gunicorn's own
    access log is off: the issuer writes its own (issuer.web.monitoring), without query strings."""
    formatter = JsonFormatter if chosen_format() == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"vexe": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "vexe",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": chosen_level(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            # Werkzeug's development server writes a line per request with the query string
            # (tokens): the issuer's own access line replaces it.
            "werkzeug": {"level": "WARNING"},
        },
    }


def setup(**ids) -> None:
    """Set up logging for this process, naming the ids every line carries (e.g.
    ``validator_id``). Called once, first thing, by each command that runs a service."""
    _process.clear()
    _process.update({name: value for name, value in ids.items() if value is not None})
    logging.config.dictConfig(dict_config())


def bind(**ids) -> contextvars.Token:
    """Add ``ids`` to every line logged from here in this context (a request); undo with
    :func:`unbind`."""
    return _bound.set({**_bound.get(), **ids})


def unbind(token: contextvars.Token) -> None:
    _bound.reset(token)
