"""The rules of the house (docs/architecture.md, ``.importlinter``): checked by import-linter
on the code as it is, through its own command."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), str(config), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_face_imported_by_a_domain_breaks_the_layers(tmp_path):
    """The linter sees what the code imports: a domain module that reaches up to a face
    breaks the contract (so the test above can fail)."""
    tree = tmp_path / "tree"
    for package in ("shared", "validator", "issuer", "backoffice", "idp", "gateway",
                    "vexe"):
        shutil.copytree(ROOT / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__", "node_modules", "vendor"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    orders = tree / "issuer/sales/orders.py"
    orders.write_text(orders.read_text() + "\nfrom issuer.api import json_body  # noqa\n")
    result = subprocess.run([str(LINT), ".importlinter", "--no-cache"], cwd=tree,
                            capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "issuer.sales.orders -> issuer.api" in result.stdout
