"""``vexe demo``: the whole system on one machine, on its embedded defaults.

It creates a signing key, imports the network from a small GTFS feed shipped with the
package (``vexe/demo_feed``), creates riders (single-route, multi-route and free passes),
starts the issuer, a validator and its sync to Redis, places the bus at its stop from a GPS
fix, runs a handful of scans (good ones and refused ones), shows the trips arriving in Redis,
then shows a live rotating QR in the terminal until Ctrl-C.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import zipfile
from contextlib import ExitStack
from pathlib import Path

import click
import qrcode
import redis

from shared import clock, keys, redis_functions, redis_keys, ticket

# The demo's network: routes 32, 34 and 09 of Hanoi with a handful of stops each, as GTFS
# text files. The names are Hanoi's; the stop ids and coordinates are illustrative, not the
# operator's feed.
FEED_DIR = Path(__file__).parent / "demo_feed"
FEED_FILES = ("agency.txt", "calendar.txt", "routes.txt", "shapes.txt", "stop_times.txt",
              "stops.txt", "trips.txt")
VALIDATOR_ID = "demo-bus-1"
VEHICLE = "29B-100.01"
ROUTE = "32"
# The bus's GPS fix: on Xuân Thủy, about 20 m short of the Cầu Giấy stop towards Nhổn.
GPS_FIX = (21.03322, 105.79838)
DEMO_ACTOR = "demo"  # who the audit log names for what the demo does as the office


def say(text: str = "") -> None:
    click.echo(text)


def heading(text: str) -> None:
    say()
    say(click.style(text, bold=True))


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo keeps its database and journal (default: a new temporary "
                   "directory, removed at the end).")
@click.option("--redis-url", envvar="VEXE_REDIS_URL", default="redis://127.0.0.1:6379/0",
              show_default=True, show_envvar=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Issuer port (default: a free one).")
@click.option("--once", is_flag=True, help="Run the scans and stop, without the live QR.")
def demo(data_dir: Path | None, redis_url: str, port: int, once: bool) -> None:
    """Run the whole system on this machine: issuer, validator, sync, a live QR."""
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="vexe-demo-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        elif data_dir.exists() and any(data_dir.iterdir()):
            raise click.UsageError(f"{data_dir} is not empty: the demo starts from nothing")
        redis_url = _redis(redis_url, data_dir, stack)
        _run(data_dir, redis_url, port, once, stack)


def _redis(url: str, data_dir: Path, stack: ExitStack) -> str | None:
    """The Redis to use: the one at ``url``, else a private redis-server, else none."""
    if _answers(url):
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        say(click.style("Redis is not available", fg="yellow") + f" at {url} and redis-server "
            "is not installed (Debian: apt-get install redis-server). The validator still "
            "validates and journals; its trips wait in the journal for Redis.")
        return None
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(data_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(_stop_process, proc)
    private = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _answers(private):
            say(f"No Redis at {url}: started a private redis-server on port {port}.")
            return private
        time.sleep(0.05)
    say(click.style("Could not start redis-server", fg="yellow") + "; going on without Redis.")
    return None


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, ValueError):
        return False


def _stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(app, port: int, stack: ExitStack) -> int:
    """Serve a WSGI app on 127.0.0.1 in a thread; returns the port."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return server.port


def _run(data_dir: Path, redis_url: str | None, port: int, once: bool, stack: ExitStack) -> None:
    import issuer
    from issuer import bootstrap
    from issuer.identity import actions as identity_actions
    from issuer.network import actions as network_actions
    from issuer.network import gtfs
    from issuer.network import stops as network_stops
    from issuer.passes import actions as pass_actions
    from issuer.passes import passes, publish, signing
    from issuer.passes import phones as devices
    from issuer.platform import audit, db, settings
    from validator.device import Validator
    from validator.http import create_app as validator_app
    from validator.sync import Syncer, connect

    now = clock.now()
    heading("1. The issuer: database, signing key, the network from GTFS, riders and passes")
    config = settings.load({"DATA_DIR": str(data_dir / "issuer"),
                            "REDIS_URL": redis_url or "redis://127.0.0.1:6379/0"})
    result = bootstrap.init(config, now=now)
    stack.callback(db.dispose)
    secret = config["SEALING_KEY"]
    say(f"   database {result.database}, signing key {result.signing_key}")
    phones = {}  # rider name -> the phone's device key
    credentials = {}  # rider name -> the credential the phone stores
    with db.session(config["DATABASE_URL"]) as session:
        # The office imports the network and sets up accounts and passes: operator actions,
        # in the audit log, as `vexe network import` and the console do them.
        read = gtfs.read(_feed_zip(data_dir), now=now)
        summary = network_actions.import_feed(session, DEMO_ACTOR, read, source=FEED_ZIP,
                                              now=now)
        say(f"   network imported from {FEED_ZIP} (GTFS): {summary['routes']['in_feed']} "
            f"routes, {summary['stops']['in_feed']} stops in "
            f"{summary['stops']['stations']} places, {summary['patterns']['count']} "
            "route directions")
        stop_name = {stop_id: name for stop_id, (name, _lat, _lon) in read.stops.items()}
        for (code, direction), stops in sorted(read.patterns.items()):
            say(f"     route {code} direction {direction}: {len(stops)} stops, "
                f"{stop_name[stops[0]]} ({stops[0]}) → {stop_name[stops[-1]]} ({stops[-1]})")
        for warning in summary["warnings"]:
            say(f"     note: {warning}")
        route_stops = network_stops.by_route(session)
        riders = [("Nguyễn Văn An", "1990-04-12", "single", "32", None),
                  ("Trần Thị Bình", "1985-09-30", "multi", None, None),
                  ("Lê Văn Cường", "1948-01-15", "free", None, "elderly"),
                  ("Phạm Thị Dung", "2001-06-02", "single", "09", None)]
        pass_ids = {}
        rider_tokens = {}  # rider name -> the token her card signs in with
        for name, born, product, route, category in riders:
            account, rider_tokens[name] = identity_actions.create_account(
                session, DEMO_ACTOR, name, born, now=now, national_id=None,
                national_id_key=None)
            p = pass_actions.issue(session, DEMO_ACTOR, account.id, product, now=now,
                                   route=route, category=category)
            pass_ids[name] = p.id
            kind = {"single": f"single-route {route}", "multi": "multi-route",
                    "free": f"free ({category})"}[product]
            say(f"   {name:16} {kind:22} pass {p.id}  valid until "
                f"{clock.iso(p.valid_until)}")
            if product == "free":
                # At the counter, a clerk makes the pass custodial for the rider, with a reason.
                with audit.action(session, DEMO_ACTOR, "pass.custodial", now=now, target=p.id,
                                  reason="rider at the counter, no key-holding phone"):
                    devices.bind_custodial(session, p.id, now=now, sealing_key=secret)
                say(f"   {'':16} no key-holding phone: the issuer holds the device key")
            else:
                # The rider's phone makes its own key; only the public half leaves it.
                phones[name] = keys.new_device_key()
                issued = devices.bind_device(session, p.id,
                                             keys.device_public_compressed(phones[name]),
                                             now=now, sealing_key=secret)
                session.commit()
                credentials[name] = issued.credential
        trust = signing.trust_list(session)
        if redis_url:
            published = publish.publish(session, redis_url, now=now)
            network = publish.publish_network(session, redis_url)
            say(f"   trust list, denylist and the stops of {network.routes} routes published "
                f"to Redis: {published.ok and network.ok}")

    app = issuer.create_app({"DATA_DIR": config["DATA_DIR"], "REDIS_URL": config["REDIS_URL"]})
    issuer_port = _serve(app, port, stack)
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    say(f"   issuer running at {issuer_url}  (trust list: {issuer_url}/.well-known/jwks.json; "
        f"operator token in {Path(config['DATA_DIR']) / settings.OPERATOR_TOKEN_FILE})")

    heading(f"2. A validator on bus {VEHICLE}, route {ROUTE}; its stop from its GPS")
    device = Validator(validator_id=VALIDATOR_ID, vehicle=VEHICLE, route=ROUTE,
                       data_dir=data_dir / f"validator-{VALIDATOR_ID}")
    stack.callback(device.close)
    syncer = None
    if redis_url:
        client = connect(redis_url)
        stack.callback(client.close)
        redis_functions.load(client)  # the push the validator calls, as the operator loads it
        syncer = Syncer(device.journal, device.lists, client, validator_id=VALIDATOR_ID,
                        route=lambda: device.route)
        syncer.pull_once(now)
        stopping = threading.Event()
        sync_thread = threading.Thread(target=syncer.run, args=(stopping,), daemon=True)
        sync_thread.start()
        stack.callback(sync_thread.join, 10)
        stack.callback(stopping.set)
        say(f"   pulled the trust list and route {ROUTE}'s stops from Redis "
            f"({len(device.lists.trust)} key, {device.status()['stops_known']} stops); "
            "sync running")
        if device.lists.stops(ROUTE) is None:  # the stops' publication failed above
            device.lists.update_stops(ROUTE, route_stops[ROUTE].dumps())
            say(f"   route {ROUTE}'s stops not in Redis: loaded from the issuer directly")
    else:
        # As a depot would load them, by hand: the trust list and the route's stops.
        device.lists.update_trust(trust.dumps())
        device.lists.update_stops(ROUTE, route_stops[ROUTE].dumps())
        say(f"   no Redis: trust list and route {ROUTE}'s stops "
            f"({device.status()['stops_known']}) loaded from the issuer directly")
    scan_port = _serve(validator_app(device, syncer), 0, stack)
    scan_url = f"http://127.0.0.1:{scan_port}"
    say(f"   validator screen API: POST {scan_url}/scan  {{\"qr\": \"...\"}}"
        "  (with the header X-Vexe-Client: <your program>)")
    # The bus's GPS reports its position; the validator finds the stop on its route.
    located = _post(f"{scan_url}/position", {"lat": GPS_FIX[0], "lon": GPS_FIX[1]})["located"]
    names = {s.id: s.name for d in route_stops[ROUTE].directions for s in d.stops}
    say(f"   GPS fix {GPS_FIX[0]}, {GPS_FIX[1]} (POST {scan_url}/position): at stop "
        f"{located['stop']} {names.get(located['stop'], '?')}, direction "
        f"{located['direction']}, {located['distance_m']} m away; "
        f"stop_by {device.stop_by}")

    heading("3. Scans")

    def phone_qr(name: str, at: float) -> str:
        return ticket.encode_qr(credentials[name], phones[name], at)

    def custodial_qr(name: str) -> str:
        """The QR the issuer makes for the rider's custodial pass, as her card fetches it."""
        request = urllib.request.Request(f"{issuer_url}/api/passes/{pass_ids[name]}/qr",
                                         headers={"Authorization":
                                                  f"Bearer {rider_tokens[name]}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode("ascii")

    def show(label: str, text: str) -> None:
        scan = device.scan(text, clock.now())
        colour = "green" if scan.accepted else "red"
        vi, en = scan.to_dict()["message"].values()
        say(f"   {label:44} " + click.style(f"{'ACCEPT' if scan.accepted else 'REFUSE':6}",
                                               fg=colour, bold=True)
            + f" {scan.reason:14} {vi} / {en}")

    now = clock.now()
    show("An, single-route 32, fresh QR", phone_qr("Nguyễn Văn An", now))
    show("Bình, multi-route, fresh QR", phone_qr("Trần Thị Bình", now))
    show("Cường, free pass, QR from the issuer", custodial_qr("Lê Văn Cường"))
    show("An again, a second later", phone_qr("Nguyễn Văn An", now + 1))
    show("a screenshot of An's QR from 2 minutes ago", phone_qr("Nguyễn Văn An", now - 120))
    show("Dung, single-route 09, on route 32", phone_qr("Phạm Thị Dung", now))
    other_phone = keys.new_device_key()
    copied = ticket.encode_qr(credentials["Trần Thị Bình"], other_phone, now)
    show("Bình's credential copied to another phone", copied)
    show("Dung's QR edited to say route 32", _edit_route(phone_qr("Phạm Thị Dung", now)))
    show("a QR cut short", phone_qr("Nguyễn Văn An", now)[:120])
    with db.session(config["DATABASE_URL"]) as session:
        with audit.action(session, DEMO_ACTOR, "pass.revoke", now=now,
                          target=pass_ids["Trần Thị Bình"], reason="phone reported lost"):
            passes.revoke(session, pass_ids["Trần Thị Bình"], "phone reported lost", now=now)
        if redis_url:
            publish.publish(session, redis_url, now=now)
            syncer.pull_once(clock.now())
        else:
            device.lists.update_denylist(passes.denylist(session, now).dumps())
    show("Bình after reporting her phone lost", phone_qr("Trần Thị Bình", clock.now()))

    heading("4. Trips")
    say(f"   journal: {device.journal.backlog()} scans waiting to be pushed")
    if syncer is not None:
        try:
            syncer.push_all(clock.now())
            _show_trips(client, names)
        except redis.RedisError as exc:
            say(f"   Redis went away ({exc}); the trips wait in the journal")
    if once:
        return
    heading("5. An's card: the QR rotates every 30 s. Ctrl-C stops everything.")
    _live_qr(lambda at: phone_qr("Nguyễn Văn An", at))


FEED_ZIP = "demo-feed.zip"


def _feed_zip(data_dir: Path) -> Path:
    """The demo's GTFS text files as the feed an operator imports: one zip archive."""
    path = data_dir / FEED_ZIP
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FEED_FILES:
            archive.write(FEED_DIR / name, name)
    return path


def _post(url: str, body: dict) -> dict:
    """POST ``body`` as JSON, as a program on the bus calls the validator's door."""
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Vexe-Client": "vexe-demo"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _edit_route(text: str) -> str:
    """The same QR with its route claim changed and the signatures left as they were."""
    parts = ticket.parse_qr(text)
    return ticket.assemble_qr(parts.header_json,
                              parts.payload_json.replace(b'"rts":["09"]', b'"rts":["32"]'),
                              parts.issuer_signature, parts.proof_time, parts.proof_signature)


def _show_trips(client: redis.Redis, stop_names: dict[str, str]) -> None:
    from backoffice import inbox

    moved = inbox.move(client)
    say(f"   {moved} trips moved from the validator's inbox into the stream, as the ingest "
        "moves them")
    length = client.xlen(redis_keys.TRIPS_STREAM)
    say(f"   Redis stream {redis_keys.TRIPS_STREAM}: {length} trips in all; this bus's latest:")
    from shared.trip import Trip

    entries = client.xrevrange(redis_keys.TRIPS_STREAM, count=20)
    mine = [Trip.from_json(fields[b"trip"]) for _id, fields in entries]
    mine = [trip for trip in mine if trip.validator == VALIDATOR_ID][:10]
    for trip in reversed(mine):
        say(f"   {trip.id}  {trip.vehicle}  route {trip.route}  stop {trip.stop} "
            f"{stop_names.get(trip.stop, '')} ({trip.stop_by})  pass {trip.pass_id or '-':10}"
            f"  {trip.decision:6} {trip.reason}")


def _live_qr(make_text) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            at = clock.now()
            text = make_text(at)
            code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
            code.add_data(text)
            out = io.StringIO()
            code.print_ascii(out=out, invert=True)
            say(out.getvalue())
            say(f"   QR version {code.version}, {len(text)} characters, made at "
                f"{clock.iso(at)}; check it with:")
            say(f"   vexe validate '{text}' --route {ROUTE}")
            remaining = ticket.DEFAULT_ROTATION - (at % ticket.DEFAULT_ROTATION)
            if stop.wait(remaining):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        say("Stopping: the validator pushes what it has, the servers close.")
