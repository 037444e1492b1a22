"""Camera-like frames of a phone showing a vexe QR, for the camera tests and benchmark.

The QR is drawn as the rider's card page shows it (black modules on a white card, a quiet
zone, a header and text around it), then "photographed": placed in a larger scene through a
perspective transform (the phone tilted and turned), blurred (focus, motion), dimmed and
flattened (a dark bus, a low screen brightness), lit by a glare spot (a lamp reflected in the
glass), with sensor noise, rendered at twice the camera's resolution and scaled down to it.
Every condition is drawn from a seeded random generator: the same seed gives the same frame.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFilter

SCREEN = (540, 1170)  # a phone screen at half its pixels; the card fills its width
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "cases.json"


def golden_qr(name: str = "accept-single") -> str:
    """A real vexe QR from the golden vectors: fixed text, so fixed modules and rates."""
    cases = json.loads(VECTORS.read_text())["cases"]
    return next(case["qr"] for case in cases if case["name"] == name)


def phone_screen(text: str, size: tuple[int, int] = SCREEN) -> Image.Image:
    """The card page as a phone shows it: header, photo, name lines, and the QR."""
    width, height = size
    screen = Image.new("L", size, 255)
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 150), fill=70)  # the card's coloured header, in grey
    draw.rectangle((30, 180, 150, 330), fill=150)  # the rider's photo
    for row in range(4):
        draw.rectangle((180, 190 + 35 * row, 180 + 300 - 50 * row, 210 + 35 * row), fill=120)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    code.add_data(text)
    code.make(fit=False if code.version else True)
    modules = code.make_image().get_image().convert("L")
    side = width - 60
    screen.paste(modules.resize((side, side), Image.NEAREST), (30, 380))
    return screen


@dataclass(frozen=True)
class Shot:
    """How the camera sees the phone."""

    camera: tuple[int, int] = (640, 480)  # the camera's resolution
    qr_fraction: float = 0.55  # the QR's width as a share of the frame's height
    turn: float = 0.0  # degrees, in the image plane
    tilt: float = 0.0  # 0 = face on; 0.3 = one edge of the phone 30 % nearer the camera
    offset: tuple[float, float] = (0.0, 0.0)  # the QR's centre from the frame's, in fractions
    blur: float = 0.0  # Gaussian radius in camera pixels
    brightness: float = 1.0  # the screen's white as a share of full scale
    contrast: float = 1.0  # the black-to-white range as a share of full scale
    glare: float = 0.0  # the glare spot's radius as a share of the QR's width
    noise: float = 2.0  # sensor noise, standard deviation in grey levels
    seed: int = 0


CONDITIONS: dict[str, callable] = {
    # name: seed -> Shot, each randomised around a realistic case
    "straight": lambda r: Shot(turn=r.uniform(-10, 10), offset=_jitter(r, 0.08)),
    "angle": lambda r: Shot(turn=r.uniform(-35, 35), tilt=r.uniform(0.2, 0.35) * r.choice((-1, 1)),
                            offset=_jitter(r, 0.08)),
    "blur": lambda r: Shot(turn=r.uniform(-10, 10), blur=r.uniform(1.0, 1.6),
                           offset=_jitter(r, 0.05)),
    "dim": lambda r: Shot(turn=r.uniform(-10, 10), brightness=r.uniform(0.18, 0.3),
                          contrast=r.uniform(0.12, 0.2), noise=3.0, offset=_jitter(r, 0.08)),
    "glare": lambda r: Shot(turn=r.uniform(-10, 10), glare=r.uniform(0.1, 0.16),
                            offset=_jitter(r, 0.05)),
    "cheap camera 320x240": lambda r: Shot(camera=(320, 240), qr_fraction=r.uniform(0.75, 0.85),
                                           turn=r.uniform(-10, 10), offset=_jitter(r, 0.04)),
    "steep angle": lambda r: Shot(turn=r.uniform(-60, 60), tilt=r.uniform(0.5, 0.6)
                                  * r.choice((-1, 1)), offset=_jitter(r, 0.05)),
    "heavy blur": lambda r: Shot(turn=r.uniform(-10, 10), blur=r.uniform(2.0, 2.6),
                                 offset=_jitter(r, 0.05)),
    "all at once": lambda r: Shot(turn=r.uniform(-25, 25), tilt=r.uniform(0.1, 0.2),
                                  blur=r.uniform(0.6, 1.0), brightness=r.uniform(0.35, 0.5),
                                  contrast=r.uniform(0.3, 0.4), glare=r.uniform(0.05, 0.08),
                                  noise=3.0, offset=_jitter(r, 0.05)),
}


def _jitter(r: random.Random, amount: float) -> tuple[float, float]:
    return (r.uniform(-amount, amount), r.uniform(-amount, amount))


def shot(condition: str, seed: int) -> Shot:
    return replace(CONDITIONS[condition](random.Random(f"{condition}/{seed}")), seed=seed)


def photograph(screen: Image.Image, s: Shot) -> bytes:
    """The frame the camera gives: ``width * height`` grey bytes."""
    cam_w, cam_h = s.camera
    big_w, big_h = cam_w * 2, cam_h * 2  # rendered finer, then sampled down like a sensor
    scr_w, _ = screen.size
    qr_side_on_screen = scr_w - 60
    scale = s.qr_fraction * big_h / qr_side_on_screen
    qr_centre = (scr_w / 2, 380 + qr_side_on_screen / 2)  # on the screen
    centre = (big_w / 2 + s.offset[0] * big_w, big_h / 2 + s.offset[1] * big_h)
    corners = [(0, 0), (screen.width, 0), (screen.width, screen.height), (0, screen.height)]
    angle = np.radians(s.turn)
    cos, sin = np.cos(angle), np.sin(angle)
    placed = []
    for x, y in corners:
        dx, dy = (x - qr_centre[0]) * scale, (y - qr_centre[1]) * scale
        # Tilt: the right edge nearer the camera looks larger, the left smaller.
        depth = 1 + s.tilt * (x - qr_centre[0]) / scr_w
        dx, dy = dx * depth, dy * depth
        placed.append((centre[0] + dx * cos - dy * sin, centre[1] + dx * sin + dy * cos))
    coeffs = _perspective_coeffs(placed, corners)
    scene = screen.transform((big_w, big_h), Image.PERSPECTIVE, coeffs, Image.BICUBIC,
                             fillcolor=45)
    if s.blur:
        scene = scene.filter(ImageFilter.GaussianBlur(s.blur * 2))
    image = np.asarray(scene, dtype=np.float32) / 255.0
    # Screen light: white becomes `brightness`, black `brightness - contrast` (not below 0).
    image = (s.brightness - s.contrast) + image * s.contrast
    if s.glare:
        rng = np.random.default_rng(s.seed)
        radius = s.glare * s.qr_fraction * big_h
        gx = centre[0] + rng.uniform(-0.25, 0.25) * s.qr_fraction * big_h
        gy = centre[1] + rng.uniform(-0.25, 0.25) * s.qr_fraction * big_h
        yy, xx = np.mgrid[0:big_h, 0:big_w]
        spot = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius ** 2)) ** 2)
        image = image + 1.5 * spot  # saturates in the middle: those modules are gone
    image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
    frame = Image.fromarray(image).resize((cam_w, cam_h), Image.BILINEAR)
    pixels = np.asarray(frame, dtype=np.float32)
    if s.noise:
        pixels = pixels + np.random.default_rng(s.seed + 1).normal(0, s.noise, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8).tobytes()


def blank(camera: tuple[int, int] = (640, 480), seed: int = 0) -> bytes:
    """A frame with no phone in it: the bus floor, with noise."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(60, 6, (camera[1], camera[0])), 0, 255).astype(np.uint8).tobytes()


def _perspective_coeffs(dst, src) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE coefficients mapping frame points ``dst`` to screen points ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs)))
