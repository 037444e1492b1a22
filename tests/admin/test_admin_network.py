"""Routes, companies, vehicles and the catalogue's prices in the administrator's console."""

from __future__ import annotations

from issuer.passes import catalogue
from issuer.platform import db
from issuer.network import fleet, routes
from tests.admin.conftest import audit_entries


def route_codes(app) -> list[str]:
    with db.session(app.config["DATABASE_URL"]) as s:
        return [r.code for r in routes.list_routes(s)]


def test_add_route_company_vehicle(admin, app):
    assert admin.post("/console/admin/network/routes", {"code": "e05a", "name": "Giáp Bát - Nhổn"}
                      ).status_code == 303
    assert "E05A" in route_codes(app)
    assert audit_entries(app, "route.add")[0].target == "E05A"
    assert admin.post("/console/admin/network/companies", {"company_code": "tp",
                      "company_name": "Transerco"}).status_code == 303
    assert admin.post("/console/admin/network/vehicles", {"vehicle_code": "29b-123.45",
                      "vehicle_company": "TP"}).status_code == 303
    with db.session(app.config["DATABASE_URL"]) as s:
        assert [v.code for v in fleet.vehicles(s, "TP")] == ["29B-123.45"]
    assert audit_entries(app, "company.add")[0].target == "TP"
    assert audit_entries(app, "vehicle.add")[0].target == "29B-123.45"
    page = admin.get("/console/admin/network/")
    assert "Giáp Bát - Nhổn" in page.text and "Transerco" in page.text


def test_bad_input_said_kept_nothing_changed(admin, app):
    page = admin.post("/console/admin/network/routes", {"code": "no spaces!", "name": "X"})
    assert page.status_code == 400 and "route code must be" in page.text
    assert 'value="no spaces!"' in page.text
    assert route_codes(app) == []
    page = admin.post("/console/admin/network/vehicles", {"vehicle_code": "29B-1",
                                                          "vehicle_company": "NOPE"})
    assert page.status_code == 404 and "no company" in page.text
    assert 'value="29B-1"' in page.text
    page = admin.post("/console/admin/network/companies", {"company_code": "TP",
                                                           "company_name": ""})
    assert page.status_code == 400 and "company name must be" in page.text
    for action in ("route.add", "company.add", "vehicle.add"):
        assert audit_entries(app, action) == []


def test_network_wrong_role_and_csrf(admin, clerk, app):
    assert clerk.post("/console/admin/network/routes", {"code": "32", "name": "X"}).status_code == 403
    assert admin.post("/console/admin/network/routes", {"code": "32", "name": "X"},
                      csrf=False).status_code == 400
    assert route_codes(app) == []


def prices(app) -> dict:
    with db.session(app.config["DATABASE_URL"]) as s:
        return {p["code"]: p for p in catalogue.as_dict(s)["products"]}


def test_set_full_and_reduced_prices(admin, app):
    reduced = next(c["code"] for c in catalogue_categories(app) if c["kind"] == "reduced")
    assert admin.post("/console/admin/catalogue/prices", {"product": "multi", "category": "",
                                                          "price": "210.000"}).status_code == 303
    assert prices(app)["multi"]["price_vnd"] == 210000
    assert admin.post("/console/admin/catalogue/prices", {"product": "multi", "category": reduced,
                                                          "price": "100000"}).status_code == 303
    assert prices(app)["multi"]["reduced_prices"][reduced] == 100000
    entries = audit_entries(app, "catalogue.price")
    assert [e.target for e in entries] == ["multi", f"multi/{reduced}"]
    assert entries[0].reason.endswith("-> 210000 VND")


def catalogue_categories(app) -> list[dict]:
    with db.session(app.config["DATABASE_URL"]) as s:
        return catalogue.as_dict(s)["categories"]


def test_bad_prices_said_kept_nothing_changed(admin, clerk, app):
    before = prices(app)
    free = next(c["code"] for c in catalogue_categories(app) if c["kind"] == "free")
    for data, said in (({"product": "multi", "price": "abc"}, "a price is a whole number"),
                       ({"product": "multi", "price": "99999999"}, "a price is 0 to"),
                       ({"product": "nope", "price": "1000"}, "product must be one of"),
                       ({"product": "multi", "category": free, "price": "0"},
                        "a reduced fare category must be one of")):
        page = admin.post("/console/admin/catalogue/prices", data)
        assert page.status_code == 400 and said in page.text, data
    assert 'value="abc"' in admin.post("/console/admin/catalogue/prices",
                                       {"product": "multi", "price": "abc"}).text
    assert clerk.post("/console/admin/catalogue/prices", {"product": "multi", "price": "1"}
                      ).status_code == 403
    assert admin.post("/console/admin/catalogue/prices", {"product": "multi", "price": "1"},
                      csrf=False).status_code == 400
    assert prices(app) == before
    assert audit_entries(app, "catalogue.price") == []
