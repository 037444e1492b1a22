"""Next month's pass on the phone that holds this month's: bound to the same phone key when
it is paid for, its credential carried in the current pass's refresh in the last days of
the month, and moved or taken off with the current pass."""

import sqlalchemy as sa

from issuer.passes import phones
from issuer.platform.models import DeviceBinding, Pass
from issuer.sales import orders
from issuer_testkit import verify_with_jwks
from shared import clock, keys

DAY = 86400


def renewed(api, session, token: str, current: dict) -> str:
    """Next month's pass for the rider of ``current``, ordered and paid (cash at a counter)."""
    now = clock.now()
    order = orders.create(session, current["account_id"], current["product"],
                          orders.months_on_sale(now, 1)[1], now=now, open_day=1,
                          route=current["route"])
    paid = orders.pay(session, order.id, amount_vnd=order.price_vnd, handled_by="test", now=now)
    session.commit()
    return paid.pass_id


def ends_in(session, current: dict, following: str | None, seconds: int) -> None:
    """Move the month's turn to ``seconds`` from now (the passes keep meeting there)."""
    turn = int(clock.now()) + seconds
    session.execute(sa.update(Pass).where(Pass.id == current["id"]).values(valid_until=turn))
    if following:
        session.execute(sa.update(Pass).where(Pass.id == following).values(valid_from=turn))
    session.commit()


def test_renewal_is_bound_to_the_phone_and_carried_in_the_last_days(api, session, device):
    api.route("32")
    token, current = api.rider_pass("single", route="32")
    key = keys.device_public_compressed(device)
    api.ok("POST", f"/api/passes/{current['id']}/device", token=token, json={"public_key": key})
    following = renewed(api, session, token, current)
    assert api.ok("GET", f"/api/passes/{following}", token=token)["device"]["key"] == key

    # Three weeks left: the refresh is as before.
    ends_in(session, current, following, 21 * DAY)
    out = api.ok("POST", f"/api/passes/{current['id']}/credential", token=token)
    assert "next" not in out

    # Two days left: next month's credential comes with it, for the same phone key.
    ends_in(session, current, following, 2 * DAY)
    out = api.ok("POST", f"/api/passes/{current['id']}/credential", token=token)
    later = out["next"]
    claims = verify_with_jwks(later["credential"], api.jwks())
    assert later["pass_id"] == claims["pid"] == following
    assert claims["cnf"]["dpk"] == key and later["device_key"] == key
    assert claims["vf"] > clock.now() + DAY  # valid from the turn of the month
    assert later["expires"] > claims["vf"]  # it still lives when the new month starts


def test_no_next_for_a_pass_on_the_issuers_key_or_another_phone(api, session, device):
    token, current = api.rider_pass("multi")
    api.ok("POST", f"/api/passes/{current['id']}/custodial", token=token)
    following = renewed(api, session, token, current)
    assert api.ok("GET", f"/api/passes/{following}", token=token)["device"] is None

    # The rider activated next month's pass on another phone herself: nothing carried.
    api.ok("POST", f"/api/passes/{current['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    other = keys.device_public_compressed(keys.new_device_key())
    api.ok("POST", f"/api/passes/{following}/device", token=token, json={"public_key": other})
    ends_in(session, current, following, 2 * DAY)
    assert "next" not in api.ok("POST", f"/api/passes/{current['id']}/credential", token=token)


def test_next_months_pass_moves_and_leaves_with_the_current_one(api, session, device):
    token, current = api.rider_pass("multi")
    api.ok("POST", f"/api/passes/{current['id']}/device", token=token,
           json={"public_key": keys.device_public_compressed(device)})
    following = renewed(api, session, token, current)

    new_phone = keys.device_public_compressed(keys.new_device_key())
    api.ok("POST", f"/api/passes/{current['id']}/device", token=token,
           json={"public_key": new_phone})
    assert api.ok("GET", f"/api/passes/{following}", token=token)["device"]["key"] == new_phone

    api.ok("POST", f"/api/passes/{current['id']}/lost-device", token=token,
           json={"reason": "mất điện thoại"})
    assert api.ok("GET", f"/api/passes/{following}", token=token)["device"] is None
    retired = session.scalars(sa.select(DeviceBinding).where(
        DeviceBinding.pass_id == following).order_by(DeviceBinding.id)).all()
    assert [b.retire_reason for b in retired][-1] == "mất điện thoại"
    assert phones.active_binding(session, following) is None
    # A refresh of a pass on no phone is refused as before; so is the lost one.
    refused = api.call("POST", f"/api/passes/{following}/credential", token=token)
    assert refused.status_code == 409
