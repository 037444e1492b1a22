"""``vexe init``: everything the issuer needs before its first pass, made once.

Each step is skipped when its result is already there, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from issuer.platform import db, ids, keyring, settings
from issuer.identity import operators
from issuer.passes import signing


@dataclass
class InitResult:
    data_dir: str
    database: str  # the URL, password hidden
    signing_key: str  # kid of the key that signs
    operator_token_id: int  # the bootstrap token's id: `vexe operator revoke-token ID`
    created: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"data_dir": self.data_dir, "database": self.database,
                "signing_key": self.signing_key, "operator_token_id": self.operator_token_id,
                "created": self.created, "changed": bool(self.created)}


def init(config: dict, *, now: float) -> InitResult:
    """Create the data directory, the secret key files (issuer.platform.keyring), the schema, the
    bootstrap operator's token (the one in ``operator.token``, or ``VEXE_OPERATOR_TOKEN``) and
    the first signing key.

    ``config`` is the resolved settings; the secrets created are put into it.
    """
    created = []
    data_dir = Path(config["DATA_DIR"])
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700, parents=True)
        created.append("data_dir")
    for name, filename in keyring.FILES.items():
        if not config.get(name):
            config[name] = _secret_file(data_dir / filename, keyring.new_key(name), created)
    if not config.get("OPERATOR_TOKEN"):
        config["OPERATOR_TOKEN"] = _secret_file(data_dir / settings.OPERATOR_TOKEN_FILE,
                                                ids.new_token(), created)
    url = config["DATABASE_URL"]
    if db.migrate(url):
        created.append("database")
    with db.session(url) as session:
        token, added = operators.register_bootstrap_token(session, config["OPERATOR_TOKEN"],
                                                          now=now)
        if added:
            created.append("bootstrap_token")
        key = signing.current(session)
        if key is None:
            key = signing.rotate(session, sealing_key=config["SEALING_KEY"], now=now)
            created.append("signing_key")
        else:
            # Fail now, not at the first pass, if the sealing key is not the one that sealed it.
            signing.private_key(session, sealing_key=config["SEALING_KEY"])
    masked = sa.make_url(url).render_as_string(hide_password=True)
    return InitResult(str(data_dir), masked, key.kid, token.id, created)


def _secret_file(path: Path, value: str, created: list[str]) -> str:
    if settings.write_secret_file(path, value):
        created.append(path.name)
    return settings.read_secret_file(path)
