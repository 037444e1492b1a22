"""QR images of a QR text, for printing or showing a custodial pass.

Error correction M (15%): a phone screen scanned through a scratched window still reads, and
the code stays small. The text is base45, which QR encodes in its compact alphanumeric mode.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.image.pil import PilImage

BOX_SIZE = 8  # pixels per module in a PNG
BORDER = 4  # modules of quiet zone, as the QR standard asks


def _code(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=BOX_SIZE, border=BORDER)
    code.add_data(text)
    code.make(fit=True)
    return code


def png(text: str) -> bytes:
    out = io.BytesIO()
    _code(text).make_image(image_factory=PilImage).save(out, format="PNG")
    return out.getvalue()


def svg(text: str) -> bytes:
    out = io.BytesIO()
    _code(text).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()


def matrix(text: str) -> list[list[bool]]:
    """The modules, quiet zone included: what the images draw."""
    return _code(text).get_matrix()
