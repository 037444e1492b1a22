"""The build step pyproject.toml cannot say: the front-end files the issuer serves.

The packages are pinned in package.json and installed by ``npm ci`` (``make install`` runs
it); their built files are copied into ``issuer/static/vendor/`` before the package is
built, so a wheel carries them and an editable install finds them in the same place.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TARGET = ROOT / "issuer" / "static" / "vendor"
# The name the issuer serves it under -> the file in node_modules.
VENDOR = {
    "qrcode-generator.mjs": "qrcode-generator/dist/qrcode.mjs",  # the card's QR encoder
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",  # the console's charts
}


def copy_vendor() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, source in VENDOR.items():
        path = ROOT / "node_modules" / source
        if path.is_file():
            _copy(path, TARGET / name)
        elif not (TARGET / name).is_file():  # an sdist carries the copies, not node_modules
            raise SystemExit(f"{path} is missing: run `npm ci` (or `make install`) first")


def _copy(source: Path, target: Path) -> None:
    """Only when it changed: an issuer running from this checkout may be serving the file."""
    data = source.read_bytes()
    if not target.is_file() or target.read_bytes() != data:
        target.write_bytes(data)


class BuildPy(build_py):
    def run(self) -> None:
        copy_vendor()
        super().run()


setup(cmdclass={"build_py": BuildPy})
