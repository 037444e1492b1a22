"""Counting the exchanges with the database server a piece of work costs, on a real engine.

A statement is one exchange; so is what the driver sends around it: psycopg sends ``BEGIN``
before the first statement of a transaction (unless the connection is in autocommit),
``COMMIT`` or ``ROLLBACK`` when a transaction is open, and the pool's pre-ping (a ``SELECT
1`` in autocommit) is one more. The counter reads the driver's own transaction status, so
what it counts is what went on the wire. On SQLite, where nothing goes on a wire, it counts
statements, commits and rollbacks: calls into the library. The test of a refresh's cost and
bench/bench_refresh.py use it.
"""

from __future__ import annotations

import sqlalchemy as sa

IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


class RoundTrips:
    """``with RoundTrips(engine) as seen:`` then ``seen.count``, ``seen.sent`` (the text of each
    exchange, statements abridged)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.sent: list[str] = []
        self._ping = None

    @property
    def count(self) -> int:
        return len(self.sent)

    def _dbapi(self, conn):
        try:
            return conn.connection.dbapi_connection
        except sa.exc.SQLAlchemyError:  # invalidated (the server dropped it): nothing is sent
            return None

    def _in_transaction(self, dbapi) -> bool:
        info = getattr(dbapi, "info", None)
        if info is None or not hasattr(info, "transaction_status"):
            return True  # not psycopg: every commit or rollback is a call
        return int(info.transaction_status) != IDLE

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        dbapi = self._dbapi(conn)
        info = getattr(dbapi, "info", None)
        if (info is not None and hasattr(info, "transaction_status")
                and not dbapi.autocommit and int(info.transaction_status) == IDLE):
            self.sent.append("BEGIN")
        self.sent.append(" ".join(statement.split()))

    def _end(self, word: str):
        def note(conn):
            dbapi = self._dbapi(conn)
            if dbapi is not None and self._in_transaction(dbapi):
                self.sent.append(word)
        return note

    def _reset(self, dbapi, record, *rest):
        if getattr(dbapi, "info", None) is not None and self._in_transaction(dbapi):
            self.sent.append("ROLLBACK (pool reset)")

    def __enter__(self) -> "RoundTrips":
        self._commit, self._rollback = self._end("COMMIT"), self._end("ROLLBACK")
        sa.event.listen(self.engine, "before_cursor_execute", self._statement)
        sa.event.listen(self.engine, "commit", self._commit)
        sa.event.listen(self.engine, "rollback", self._rollback)
        sa.event.listen(self.engine.pool, "reset", self._reset)
        dialect = self.engine.dialect
        self._ping = dialect.do_ping

        def ping(dbapi_connection):
            self.sent.append("ping")
            return self._ping(dbapi_connection)

        dialect.do_ping = ping
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "rollback", self._rollback)
        sa.event.remove(self.engine.pool, "reset", self._reset)
        del self.engine.dialect.do_ping  # the class's own again
