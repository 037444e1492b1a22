"""Next month's pass on the phone that holds this month's, so that at 00:00 on the 1st,
Hanoi time, the card shows the new month with no network that morning.

A renewed pass (same rider, product and route, starting the moment the current one ends) is
bound at issue to the phone key the current pass is bound to: the rider already proved she
holds that key, and only that phone can make a QR with it. From then on the phone's refresh
of the current pass also carries a credential for the next one (``next`` in the answer),
minted ahead and valid from the 1st; the card keeps it and switches at the boundary offline.
A custodial pass is not followed: the issuer's QR needs the network anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.passes import passes, phones
from issuer.platform.errors import IssuerError
from issuer.platform.models import DeviceBinding, Pass

def _same_pass(p: Pass):
    route = (Pass.route_code.is_(None) if p.route_code is None
             else Pass.route_code == p.route_code)
    return sa.and_(Pass.account_id == p.account_id, Pass.product == p.product, route,
                   Pass.status == passes.ACTIVE)


def follow_phone(session: Session, p: Pass, *, now: float) -> DeviceBinding | None:
    """Bind ``p``, just issued, to the phone its predecessor (the same pass, ending when
    ``p`` starts) is on; None when there is no such pass or it is on no phone."""
    held = session.scalar(
        sa.select(DeviceBinding).join(Pass, Pass.id == DeviceBinding.pass_id)
        .where(_same_pass(p), Pass.id != p.id, Pass.valid_until == p.valid_from,
               DeviceBinding.retired_at.is_(None), DeviceBinding.custodial.is_(False)))
    if held is None:
        return None
    binding = DeviceBinding(pass_id=p.id, device_key=held.device_key, custodial=False,
                            label=held.label, created_at=int(now))
    session.add(binding)
    session.flush()
    return binding


def credential_after(session: Session, issued: phones.Issued, *, now: float,
                     sealing_key: str | None, lifetime: int) -> phones.Issued | None:
    """A credential for the pass the refresh named as following ``issued``'s on the same
    phone (``issued.follows``), or None."""
    if issued.follows is None:
        return None
    try:
        return phones.refresh_credential(session, issued.follows, now=now,
                                         sealing_key=sealing_key, lifetime=lifetime)
    except IssuerError:
        return None  # revoked or moved a moment ago: the card hears of it at its next sync
