"""Coverage-guided fuzzing of the QR parser and the validator's check (atheris/libFuzzer).

    .venv/bin/python fuzz/fuzz_check.py -runs=200000        # or -max_total_time=600

The first byte of each input picks how the rest is read: as the scanned text itself, or as
the body behind the ``VX1:`` prefix (so the fuzzer reaches DEFLATE, JSON and the signature
checks instead of stopping at base45). The seed corpus is valid QRs of each product. A crash
is any exception out of ``check``, or an accepted QR that is not the valid one it came from.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import base45

    from shared import clock, keys, ticket
    from shared.denylist import Denylist
    from validator.check import check

NOW = 1795136400  # 2026-11-20 01:00:00 UTC
ISSUER = keys.new_signing_key()
TRUST = keys.TrustList([keys.TrustedKey(keys.key_id(ISSUER), ISSUER.public_key())])
PHONE = keys.new_device_key()
START, END = clock.month_bounds(2026, 11)


def _valid(product: str, routes: list[str], category: str | None) -> str:
    credential = ticket.mint_credential(
        ISSUER, jti=f"fz{product}0001", pass_id=f"FUZZ{product}00001", product=product,
        routes=routes, valid_from=START, valid_until=END,
        device_key=keys.device_public_compressed(PHONE), now=NOW, category=category)
    return ticket.encode_qr(credential, PHONE, NOW)


VALID = [_valid("S", ["32"], None), _valid("M", ["*"], None), _valid("F", ["*"], "elderly")]
VALID_PARTS = [ticket.parse_qr(text) for text in VALID]
AS_TEXT, AS_BODY = 0, 1


def seeds() -> list[bytes]:
    out = []
    for text in VALID:
        out.append(bytes([AS_TEXT]) + text.encode("ascii"))
        out.append(bytes([AS_BODY]) + base45.b45decode(text[len(ticket.PREFIX):]))
    return out


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 2, data[1:]
    if mode == AS_TEXT:
        text = rest.decode("latin-1")
    else:
        text = ticket.PREFIX + base45.b45encode(rest).decode("ascii")
    decision = check(text, trust=TRUST, denylist=Denylist.empty(), route="32",
                     vehicle="29B-FUZZ", now=NOW)
    if decision.accepted and ticket.parse_qr(text) not in VALID_PARTS:
        raise AssertionError(f"accepted a QR that is no valid one: {text!r}")


def main(argv: list[str]) -> None:
    corpus = Path(tempfile.mkdtemp(prefix="vexe-fuzz-corpus-"))
    for n, seed in enumerate(seeds()):
        (corpus / f"seed-{n}").write_bytes(seed)
    atheris.Setup([*argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
