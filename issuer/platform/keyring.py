"""The issuer's three secret keys, each for one purpose, none derived from another.

- The sealing key (``sealing.key`` or ``VEXE_SEALING_KEY``): Fernet keys that seal the
  private keys kept in the database (signing keys, custodial device keys). One key a line:
  the first seals, every one opens (``MultiFernet``), so a rotation keeps the old key
  only until everything sealed with it has been sealed again.
- The national-ID key (``national-id.key`` or ``VEXE_NATIONAL_ID_KEY``): the HMAC key of the
  national-ID hashes that find a rider's account. No command rotates it: a new key matches
  no stored hash, and the numbers to hash again are not kept (docs/operations.md).
- The cookie key (``cookie.key`` or ``VEXE_COOKIE_KEY``): signs the browser's session cookie
  and CSRF tokens. One key a line: the first signs, the others still verify (Flask's
  ``SECRET_KEY_FALLBACKS``), so signed-in people stay signed in through a rotation.

An installation from before had one ``secret.key`` (or ``VEXE_SECRET_KEY``) for all three.
It is split on the first start: each new key gets the very bytes the old secret was used
with for that purpose, so sealed keys still open, national-ID hashes still match and
session cookies stay valid. ``secret.key`` is then removed: it would open everything.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

from cryptography.fernet import Fernet

from issuer.platform.errors import NotReady
from shared.i18n import N_

SEALING, NATIONAL_ID, COOKIE = "SEALING_KEY", "NATIONAL_ID_KEY", "COOKIE_KEY"
FILES = {SEALING: "sealing.key", NATIONAL_ID: "national-id.key", COOKIE: "cookie.key"}
LEGACY_SETTING, LEGACY_FILE = "SECRET_KEY", "secret.key"
# The labels the single secret key was derived with, for each purpose, before the split.
LEGACY_LABELS = {NATIONAL_ID: b"vexe national id v1", COOKIE: b"vexe web session v1"}


def new_key(name: str) -> str:
    if name == SEALING:
        return Fernet.generate_key().decode("ascii")
    return secrets.token_hex(32)


def resolve(config: MutableMapping, data_dir: Path) -> None:
    """Put the three keys into ``config`` from the settings or their files, splitting an old
    single secret first; then Flask's ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` from the
    cookie key. A key missing everywhere stays None: ``vexe init`` creates it."""
    from issuer.platform.settings import read_secret_file  # settings imports this module

    for name, filename in FILES.items():
        value = config.get(name) or read_secret_file(data_dir / filename)
        config[name] = " ".join(str(value).split()) if value else None
    if not all(config[name] for name in FILES):
        _split_legacy(config, data_dir)
    cookies = [_hex_key(COOKIE, k) for k in config[COOKIE].split()] if config[COOKIE] else []
    config["SECRET_KEY"] = cookies[0] if cookies else None
    config["SECRET_KEY_FALLBACKS"] = cookies[1:]
    if config[NATIONAL_ID]:
        _hex_key(NATIONAL_ID, config[NATIONAL_ID])


def _split_legacy(config: MutableMapping, data_dir: Path) -> None:
    """Fill the keys missing from an old single secret: in memory when it is a setting (move
    them to the three settings), into the three files when it is ``secret.key``."""
    from issuer.platform.settings import read_secret_file, write_secret_file

    setting = config.get(LEGACY_SETTING)
    legacy = data_dir / LEGACY_FILE
    old = setting if isinstance(setting, str) and setting else read_secret_file(legacy)
    if not old:
        return
    for name, value in legacy_keys(old).items():
        if config[name]:
            continue
        if old is not setting:
            write_secret_file(data_dir / FILES[name], value)  # no change if already there
        config[name] = value
    if old is not setting:
        legacy.unlink(missing_ok=True)  # a second process may have split it first


def legacy_keys(secret: str) -> dict[str, str]:
    """The three keys that the one secret key of an older installation stood for."""
    try:
        Fernet(secret)
    except (ValueError, TypeError):
        raise NotReady(N_("the secret key is not a Fernet key (32 url-safe base64 bytes)")) \
            from None
    derived = {name: hmac.new(secret.encode("ascii"), label, hashlib.sha256).hexdigest()
               for name, label in LEGACY_LABELS.items()}
    return {SEALING: secret, **derived}


def _hex_key(name: str, value: str) -> bytes:
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise NotReady(N_("%(name)s must be 64 hexadecimal digits (32 bytes)"), name=name)
    return key


def replace_secret_file(path: Path, keys: list[str]) -> None:
    """Write ``keys``, one a line, to ``path`` at once (owner-only): a reader sees the old
    file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write("".join(k + "\n" for k in keys))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
