"""The development identity provider's citizens: people to sign in as, with what a national
e-ID account holds. Names and numbers are made up."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Citizen:
    sub: str  # the provider's stable, opaque subject identifier
    name: str
    birthdate: str  # YYYY-MM-DD
    national_id: str  # 12 digits
    level: int  # e-ID identity level: 1 (registered) or 2 (verified in person)
    colour: tuple[int, int, int]
    note: str = ""  # why this one is in the list, for whoever picks

    @property
    def initials(self) -> str:
        words = self.name.split()
        return (words[0][0] + words[-1][0]).upper()


CITIZENS = [
    Citizen("vn-7f3a9c21", "Nguyễn Văn An", "1990-05-01", "001090012345", 2, (46, 125, 50),
            "người lớn, mức 2 · adult, level 2"),
    Citizen("vn-2b8e4d10", "Trần Thị Bình", "1955-03-12", "001155004321", 2, (121, 85, 72),
            "trên 60 tuổi · over 60"),
    Citizen("vn-c41d7e88", "Lê Hoàng Cường", "2005-09-30", "001205007788", 2, (21, 101, 192),
            "sinh viên · student"),
    Citizen("vn-95af02b3", "Phạm Minh Đức", "1988-11-02", "001088009911", 1, (106, 27, 154),
            "mức 1: không giữ được vé · level 1: cannot hold a pass"),
    Citizen("vn-e0c6a5f4", "Vũ Thị Hoa", "2021-06-15", "001321001122", 2, (216, 67, 21),
            "trẻ em dưới 6 tuổi · child under 6"),
    Citizen("vn-1d9b3f70", "Nguyễn Văn An", "1990-05-01", "001090012345", 2, (84, 110, 122),
            "cùng số định danh với An: tài khoản thứ hai · same ID number as An: a second account"),
]
BY_SUB = {c.sub: c for c in CITIZENS}


def photo_png(citizen: Citizen) -> bytes:
    """A small portrait stand-in: the citizen's initials on their colour, 3:4 like an ID photo."""
    image = Image.new("RGB", (96, 128), citizen.colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((28, 22, 68, 62), fill=(255, 255, 255))
    draw.rounded_rectangle((14, 70, 82, 128), radius=20, fill=(255, 255, 255))
    draw.text((48, 99), citizen.initials, fill=citizen.colour, anchor="mm", font_size=24)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
