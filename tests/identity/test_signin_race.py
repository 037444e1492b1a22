"""Two first sign-ins of the same person at the same moment make one account, not an error."""

import threading

import pytest

from issuer import bootstrap
from issuer.platform import db, settings
from issuer.identity import eid
from shared import clock

CLAIMS = {"sub": "vn-race-0001", "name": "Nguyễn Văn An", "birthdate": "1990-05-01",
          "identity_level": 2, "national_id": "001090099999"}


def test_simultaneous_first_sign_ins_share_one_account(tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: the race needs a server database")
    config = settings.load({"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url})
    bootstrap.init(config, now=clock.now())
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def sign_in() -> None:
        with db.session(database_url) as session:
            barrier.wait()
            try:
                account = eid.account_from_claims(
                    session, issuer="http://idp.test", claims=CLAIMS, photo=None,
                    national_id_key=config["NATIONAL_ID_KEY"], now=clock.now())
                ids.append(account.id)
            except Exception as exc:  # noqa: BLE001  (the assertion below names it)
                errors.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    db.dispose()
    assert errors == [] and len(ids) == 8 and len(set(ids)) == 1
