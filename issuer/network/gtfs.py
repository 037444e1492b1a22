"""Reading a GTFS feed (https://gtfs.org/schedule/reference/) as real feeds come: what the
network needs from it, what was assumed (warnings), and what cannot be used (errors).

Read with Python's csv module, one row at a time: gtfs-kit pulls a geospatial stack
(geopandas, pyproj, shapely) and partridge's last release (2020) leaves pandas unpinned, and
neither lists a feed's errors the way an operator needs them, so the checks would be ours
anyway. A feed is a zip archive from outside: its size and number of files are bounded
before anything is decompressed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from issuer.network import routes
from issuer.platform.errors import Invalid
from shared.i18n import N_
from issuer.network.fleet import COMPANY_CODE
from shared.text import name_problem

MAX_FILES = 64
MAX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes, all files together: a city's feed is ~50 MB
MAX_ERRORS = 50  # listed; the count says how many more
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
NAME_LEN = 200  # a route's or a stop's name, as the tables keep it
ID_LEN = 64  # a stop id, as the stops table keeps it

REQUIRED = {
    "routes.txt": ("route_id", "route_short_name"),
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
}
# Generated names, not a place: "Route_31_2", "STOP_01_1_S1".
PLACEHOLDER = re.compile(r"[A-Za-z]+(?:_[A-Za-z0-9]+)+")


class FeedRefused(Invalid):
    """A feed with errors: nothing of it is imported."""

    def __init__(self, errors: list[str], total: int):
        self.errors = errors
        listed = "; ".join(errors)
        if total > len(errors):
            super().__init__(N_("feed refused, %(total)s errors: %(errors)s; and %(more)s more"),
                             total=total, errors=listed, more=total - len(errors))
        elif total == 1:
            super().__init__(N_("feed refused, 1 error: %(errors)s"), errors=listed)
        else:
            super().__init__(N_("feed refused, %(total)s errors: %(errors)s"), total=total,
                             errors=listed)


@dataclass
class Feed:
    """What the network takes from a feed. ``patterns`` and ``shapes`` are keyed by
    (route code, direction)."""

    timezone: str
    companies: dict[str, str] = field(default_factory=dict)  # code -> name
    routes: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # code -> name, company
    stops: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # id -> name, lat, lon
    patterns: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict)
    shapes: dict[tuple[str, int], list[tuple[float, float]]] = field(default_factory=dict)
    trips: int = 0
    stop_times: int = 0
    warnings: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self):
        self.errors: list[str] = []
        self.total = 0

    def error(self, message: str) -> None:
        self.total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def check(self) -> None:
        if self.total:
            raise FeedRefused(self.errors, self.total)


def read(path: Path, *, now: float) -> Feed:
    """The feed at ``path``; :class:`FeedRefused` listing its errors if it has any."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise Invalid(N_("%(path)s: not a zip archive (%(problem)s)"), path=str(path),
                      problem=str(exc)) from None
    with archive:
        names = _check_archive(archive)
        problems = _Problems()
        for name, columns in REQUIRED.items():
            if name not in names:
                problems.error(f"{name} missing")
            else:
                header = _header(archive, name)
                for column in columns:
                    if column not in header:
                        problems.error(f"{name}: column {column} missing")
        problems.check()
        try:
            return _Reader(archive, names, problems, now).read()
        except (csv.Error, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise Invalid(N_("%(path)s: unreadable (%(problem)s)"), path=str(path),
                          problem=str(exc)) from None


def _check_archive(archive: zipfile.ZipFile) -> set[str]:
    """The names of the feed's files, once the archive is known not to be a bomb: the sizes
    its directory declares are what reading will decompress at most (zipfile stops there)."""
    infos = archive.infolist()
    if len(infos) > MAX_FILES:
        raise Invalid(N_("feed refused: %(count)s files in the archive, at most %(most)s"),
                      count=len(infos), most=MAX_FILES)
    size = sum(info.file_size for info in infos)
    if size > MAX_UNCOMPRESSED:
        raise Invalid(N_("feed refused: %(size)s bytes uncompressed, at most %(most)s"),
                      size=size, most=MAX_UNCOMPRESSED)
    return {info.filename for info in infos if not info.is_dir()}


def _rows(archive: zipfile.ZipFile, name: str):
    with archive.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = [column.strip() for column in next(reader, [])]
        for line, row in enumerate(reader, start=2):
            if row:
                yield line, {column: value.strip() for column, value in zip(header, row)}


def _header(archive: zipfile.ZipFile, name: str) -> list[str]:
    with archive.open(name) as raw:
        first = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").readline()
    return [column.strip() for column in next(csv.reader([first]), [])]


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, names: set[str], problems: _Problems,
                 now: float):
        self.archive, self.names, self.problems, self.now = archive, names, problems, now
        self.feed = Feed(timezone=DEFAULT_TIMEZONE)
        self.route_of: dict[str, str] = {}  # route_id -> code
        self.trips: dict[str, tuple[str, int, str]] = {}  # trip_id -> code, direction, shape_id
        self.placeholders: list[str] = []
        # shape_id -> the routes and directions whose path it is
        self.chosen_shapes: dict[str, list[tuple[str, int]]] = {}

    def read(self) -> Feed:
        agency_of = self._agencies()
        self._routes(agency_of)
        self._stops()
        self._trips()
        self._patterns()
        self.problems.check()
        self._shapes()
        self.problems.check()
        self._calendar()
        idle = sorted(set(self.feed.routes) - {code for code, _ in self.feed.patterns})
        if idle:
            self._warn(f"routes without trips, imported without stops: {', '.join(idle[:10])}")
        if self.placeholders:
            self._warn(f"{len(self.placeholders)} placeholder names (an id, not a place), e.g. "
                       + ", ".join(self.placeholders[:3]))
        return self.feed

    def _warn(self, message: str) -> None:
        self.feed.warnings.append(message)

    def _name(self, where: str, name: str) -> None:
        problem = name_problem(name, NAME_LEN)
        if problem:
            self.problems.error(f"{where}: name {problem}")
        elif PLACEHOLDER.fullmatch(name) and any(c.isdigit() for c in name):
            self.placeholders.append(name)

    def _unique(self, file: str, column: str):
        """Rows of ``file``, each with its ``column`` id; a duplicate id is an error."""
        seen = set()
        for line, row in _rows(self.archive, file):
            key = row.get(column, "")
            if not key:
                self.problems.error(f"{file} line {line}: {column} empty")
                continue
            if key in seen:
                self.problems.error(f"{file} line {line}: duplicate {column} {key!r}")
                continue
            seen.add(key)
            yield line, key, row

    def _agencies(self) -> dict[str, str]:
        """agency_id -> company code, for the agencies that can be companies."""
        if "agency.txt" not in self.names:
            self._warn(f"agency.txt missing: time zone assumed {DEFAULT_TIMEZONE}, "
                       "routes belong to no company")
            return {}
        agency_of, zones = {}, set()
        for _, row in _rows(self.archive, "agency.txt"):
            zones.add(row.get("agency_timezone", ""))
            agency_id, name = row.get("agency_id", ""), row.get("agency_name", "")
            code = agency_id.upper()
            if not COMPANY_CODE.fullmatch(code) or name_problem(name, NAME_LEN):
                self._warn(f"agency {agency_id or name!r} is no company: its agency_id must "
                           f"match {COMPANY_CODE.pattern} and its name be set")
                continue
            agency_of[agency_id] = code
            self.feed.companies[code] = name
        self._timezone(zones - {""})
        if len(agency_of) == 1:
            agency_of[""] = next(iter(agency_of.values()))  # routes may leave it out
        return agency_of

    def _timezone(self, zones: set[str]) -> None:
        zone = min(zones) if len(zones) == 1 else None
        try:
            if zone is not None:
                ZoneInfo(zone)
                self.feed.timezone = zone
                return
        except (ZoneInfoNotFoundError, ValueError):
            pass
        self._warn(f"agency_timezone {sorted(zones)} not one known zone: "
                   f"{DEFAULT_TIMEZONE} assumed")

    def _routes(self, agency_of: dict[str, str]) -> None:
        for line, route_id, row in self._unique("routes.txt", "route_id"):
            where = f"routes.txt line {line}"
            try:
                code = routes.normalize_code(row.get("route_short_name", ""))
            except Invalid as exc:
                self.problems.error(f"{where}: route_short_name is the pass's route: {exc}")
                continue
            if code in self.feed.routes:
                self.problems.error(f"{where}: duplicate route_short_name {code!r}")
                continue
            name = row.get("route_long_name") or code
            self._name(where, name)
            self.route_of[route_id] = code
            self.feed.routes[code] = (name, agency_of.get(row.get("agency_id", "")))

    def _stops(self) -> None:
        for line, stop_id, row in self._unique("stops.txt", "stop_id"):
            if row.get("location_type", "") in ("2", "3", "4"):
                continue  # entrances, generic nodes, boarding areas: not where a bus stops
            where = f"stops.txt line {line}"
            if name_problem(stop_id, ID_LEN):
                self.problems.error(f"{where}: stop_id {name_problem(stop_id, ID_LEN)}")
                continue
            name = row.get("stop_name") or stop_id
            self._name(where, name)
            try:
                lat, lon = float(row["stop_lat"]), float(row["stop_lon"])
            except ValueError:
                self.problems.error(f"{where}: stop_lat, stop_lon not numbers")
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                self.problems.error(f"{where}: coordinates out of range ({lat}, {lon})")
                continue
            self.feed.stops[stop_id] = (name, lat, lon)

    def _trips(self) -> None:
        no_direction = no_shape = 0
        for line, trip_id, row in self._unique("trips.txt", "trip_id"):
            code = self.route_of.get(row.get("route_id", ""))
            if code is None:
                self.problems.error(f"trips.txt line {line}: unknown route_id "
                                    f"{row.get('route_id', '')!r}")
                continue
            direction = row.get("direction_id", "")
            if direction == "":
                no_direction += 1
                direction = "0"
            if direction not in ("0", "1"):
                self.problems.error(f"trips.txt line {line}: direction_id {direction!r}, "
                                    "not 0 or 1")
                continue
            shape = row.get("shape_id", "")
            no_shape += not shape
            self.trips[trip_id] = (code, int(direction), shape)
        self.feed.trips = len(self.trips)
        if no_direction:
            self._warn(f"{no_direction} trips without direction_id: direction 0 assumed")
        if no_shape:
            self._warn(f"{no_shape} trips without shape_id: no path for them")

    def _patterns(self) -> None:
        """For each route and direction, the most common stop sequence of its trips; ties go
        to the longest, then the first in order, so that a re-import picks the same one."""
        stops_of: dict[str, list[tuple[int, str]]] = defaultdict(list)
        unknown_trips, unknown_stops = Counter(), Counter()
        count = 0
        for line, row in _rows(self.archive, "stop_times.txt"):
            count += 1
            trip_id, stop_id = row.get("trip_id", ""), row.get("stop_id", "")
            if trip_id not in self.trips:
                unknown_trips[trip_id] += 1
            elif stop_id not in self.feed.stops:
                unknown_stops[stop_id] += 1
            else:
                try:
                    stops_of[trip_id].append((int(row.get("stop_sequence", "")), stop_id))
                except ValueError:
                    self.problems.error(f"stop_times.txt line {line}: stop_sequence not a number")
        self.feed.stop_times = count
        for what, unknown in (("trip_id", unknown_trips), ("stop_id", unknown_stops)):
            for key, times in unknown.most_common():
                self.problems.error(f"stop_times.txt: unknown {what} {key!r} ({times} rows)")
        sequences: dict[tuple[str, int], Counter] = defaultdict(Counter)
        for trip_id, stops in stops_of.items():
            code, direction, _ = self.trips[trip_id]
            sequences[code, direction][tuple(stop for _, stop in sorted(stops))] += 1
        for key, counted in sequences.items():
            self.feed.patterns[key] = max(sorted(counted), key=lambda s: (counted[s], len(s)))
        self.chosen_shapes = self._shape_of_patterns(stops_of)

    def _shape_of_patterns(self, stops_of) -> dict[str, list[tuple[str, int]]]:
        """The shape most trips of each chosen pattern drive."""
        shapes: dict[tuple[str, int], Counter] = defaultdict(Counter)
        for trip_id, stops in stops_of.items():
            code, direction, shape = self.trips[trip_id]
            if shape and tuple(s for _, s in sorted(stops)) == self.feed.patterns[code, direction]:
                shapes[code, direction][shape] += 1
        chosen = defaultdict(list)
        for key, counted in shapes.items():
            chosen[max(sorted(counted), key=counted.__getitem__)].append(key)
        return chosen

    def _shapes(self) -> None:
        if "shapes.txt" not in self.names:
            if self.chosen_shapes:
                self._warn("shapes.txt missing: no route paths")
            return
        points: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        for line, row in _rows(self.archive, "shapes.txt"):
            shape = row.get("shape_id", "")
            if shape not in self.chosen_shapes:
                continue
            try:
                seq = int(row.get("shape_pt_sequence", ""))
                lat, lon = float(row.get("shape_pt_lat", "")), float(row.get("shape_pt_lon", ""))
            except ValueError:
                self.problems.error(f"shapes.txt line {line}: sequence or coordinates not numbers")
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                self.problems.error(f"shapes.txt line {line}: coordinates out of range")
                continue
            points[shape].append((seq, lat, lon))
        for shape, keys in self.chosen_shapes.items():
            if shape not in points:
                self._warn(f"shape {shape!r} not in shapes.txt: route {keys[0][0]} has no path")
            for key in keys if shape in points else ():
                self.feed.shapes[key] = [(lat, lon) for _, lat, lon in sorted(points[shape])]

    def _calendar(self) -> None:
        """The feed's last day of service; past it, the network is still what it was."""
        last = []
        if "calendar.txt" in self.names:
            last += [row.get("end_date", "") for _, row in _rows(self.archive, "calendar.txt")]
        if "calendar_dates.txt" in self.names:
            last += [row.get("date", "") for _, row in _rows(self.archive, "calendar_dates.txt")
                     if row.get("exception_type") == "1"]
        dates = [d for d in last if re.fullmatch(r"\d{8}", d)]
        if not dates:
            self._warn("no service dates (calendar.txt, calendar_dates.txt): none checked")
            return
        today = dt.datetime.fromtimestamp(self.now, ZoneInfo(self.feed.timezone)).strftime("%Y%m%d")
        if max(dates) < today:
            end = max(dates)
            self._warn(f"calendar expired on {end[:4]}-{end[4:6]}-{end[6:]}: "
                       "the network imported as the feed has it")
