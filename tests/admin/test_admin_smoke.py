import pytest


@pytest.mark.parametrize("path", ["/console/admin/passes/", "/console/admin/keys/",
                                  "/console/admin/keys/rotate", "/console/admin/audit/",
                                  "/console/admin/operators/", "/console/admin/network/",
                                  "/console/admin/catalogue/"])
def test_pages_open(admin, clerk, path):
    page = admin.get(path)
    assert page.status_code == 200, page.text
    assert clerk.get(path).status_code == 403
