"""The trust list and the denylist a validator checks against, and its route's stops (to
locate the bus), in memory and cached on disk.

The sync pulls them from Redis; a validator that restarts with no network starts from the
copies on disk. A list that does not parse never replaces a good one. The stops of each
route the validator has run are kept, one file each (``stops/<route>.json``), so a bus
switched back to a route it ran before knows its stops offline.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from shared.denylist import Denylist
from shared.keys import TrustList
from shared.redis_keys import ROUTE_CODE
from shared.stops import RouteStops

log = logging.getLogger(__name__)

TRUST_FILE = "trust.json"
DENYLIST_FILE = "denylist.json"
STOPS_DIR = "stops"


class Lists:
    """The current trust list and denylist; readers take ``trust`` and ``denylist`` as they are.

    Each is replaced whole (one attribute assignment), so a scan running while the sync
    swaps in a new list sees the old one or the new one, never a mix.
    """

    def __init__(self, cache_dir: str | os.PathLike):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one writer at a time for the files
        self._texts: dict[str, str] = {}
        self.trust = TrustList([])
        self.denylist = Denylist.empty()
        self._load(TRUST_FILE, TrustList.from_jwks, "trust")
        self._load(DENYLIST_FILE, Denylist.loads, "denylist")
        self._stops: dict[str, RouteStops | None] = {}  # route -> its stops, once looked up

    def _load(self, name: str, parse, attribute: str) -> None:
        path = self.cache_dir / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            setattr(self, attribute, parse(text))
        except ValueError as exc:
            log.warning("ignoring the cached %s at %s: %s", attribute, path, exc)
            return
        self._texts[name] = text

    def update_trust(self, text: str) -> bool:
        """Use the trust list (a JWKS) in ``text``; True if it changed. ValueError if bad."""
        return self._update(TRUST_FILE, text, TrustList.from_jwks, "trust")

    def update_denylist(self, text: str) -> bool:
        """Use the denylist in ``text``; True if it changed. ValueError if bad."""
        return self._update(DENYLIST_FILE, text, Denylist.loads, "denylist")

    def stops(self, route: str) -> RouteStops | None:
        """The stops of ``route``, from memory or the disk; None if none were ever pulled."""
        if route in self._stops:
            return self._stops[route]
        found = None
        path = self._stops_path(route)
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
                found = RouteStops.loads(text)
                if found.route != route:
                    raise ValueError(f"the stops of route {found.route!r}")
            except FileNotFoundError:
                found = None
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                log.warning("ignoring the cached stops at %s: %s", path, exc)
                found = None
        with self._lock:
            self._stops.setdefault(route, found)
            if found is not None:
                self._texts.setdefault(str(path), text)
            return self._stops[route]

    def update_stops(self, route: str, text: str) -> bool:
        """Use the stops of ``route`` in ``text``; True if they changed. ValueError if bad."""
        path = self._stops_path(route)
        if path is None:
            raise ValueError(f"route {route!r} is not a route code of the network")
        self.stops(route)  # the copy on disk, if any, so that the same text is not rewritten
        with self._lock:
            if self._texts.get(str(path)) == text:
                return False
            value = RouteStops.loads(text)
            if value.route != route:
                raise ValueError(f"the key of route {route!r} holds route {value.route!r}")
            path.parent.mkdir(exist_ok=True)
            write_atomically(path, text.encode("utf-8"))
            self._stops[route] = value
            self._texts[str(path)] = text
            return True

    def _stops_path(self, route: str) -> Path | None:
        # Only a route code names a file: a route set by hand may hold anything.
        if not isinstance(route, str) or not ROUTE_CODE.fullmatch(route):
            return None
        return self.cache_dir / STOPS_DIR / f"{route}.json"

    def _update(self, name: str, text: str, parse, attribute: str) -> bool:
        with self._lock:
            if self._texts.get(name) == text:
                return False  # unchanged: don't wear the flash with the same bytes
            value = parse(text)
            write_atomically(self.cache_dir / name, text.encode("utf-8"))
            setattr(self, attribute, value)
            self._texts[name] = text
            return True


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old file or the new, whole.

    Write a temporary file in the same directory, fsync it, rename it over the old one,
    then fsync the directory so the rename itself survives a power cut.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
