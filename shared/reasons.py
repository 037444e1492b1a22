"""Decision reason codes, stable across versions, with the short screen messages.

Codes are part of the product's contract: validators journal them, operators chart them,
``vexe validate`` prints them. Never rename one; add new ones at the end.
"""

OK = "ok"

MESSAGES: dict[str, tuple[str, str]] = {
    # code: (Vietnamese, English)
    OK: ("Hợp lệ. Mời lên xe", "Valid. Welcome aboard"),
    "malformed": ("Mã QR không đọc được", "QR code cannot be read"),
    "unsupported_version": ("Phiên bản mã QR không được hỗ trợ", "QR code version not supported"),
    "unknown_key": ("Khóa ký không được tin cậy", "Signing key not trusted"),
    "bad_signature": ("Chữ ký vé không hợp lệ", "Ticket signature invalid"),
    "not_yet_valid": ("Vé chưa có hiệu lực", "Ticket not yet valid"),
    "expired": ("Vé đã hết hạn, hãy mở ứng dụng khi có mạng", "Ticket expired, open the app online"),
    "outside_validity": ("Thẻ không có hiệu lực trong thời gian này", "Pass not valid at this time"),
    "wrong_route": ("Thẻ không dùng cho tuyến này", "Pass not valid on this route"),
    "bad_proof": ("Mã QR không khớp với điện thoại", "QR code does not match the phone"),
    "stale_proof": ("Mã QR đã cũ, hãy hiển thị mã mới", "QR code is old, show a fresh one"),
    "revoked": ("Thẻ đã bị thu hồi", "Pass has been revoked"),
    "replayed": ("Mã QR này đã được dùng", "This QR code was already used"),
    "passback": ("Thẻ vừa được dùng trên xe này", "Pass just used on this bus"),
    "device_replaced": ("Thẻ đã được kích hoạt trên điện thoại khác",
                        "Pass activated on another phone"),
}

REASONS = tuple(MESSAGES)

# Refusals by the validator device itself, before or without a decision on the QR: they are
# never journaled (that is why they happen), so they reach the screen and the local
# interface only. Stable codes too; add new ones at the end.
DEVICE_MESSAGES: dict[str, tuple[str, str]] = {
    "storage_full": ("Máy soát vé hết bộ nhớ, tạm không nhận vé",
                     "Validator storage full, not accepting tickets"),
    "storage_error": ("Máy soát vé lỗi lưu trữ, tạm không nhận vé",
                      "Validator storage error, not accepting tickets"),
    "journal_damaged": ("Dữ liệu máy soát vé bị hỏng, tạm không nhận vé",
                        "Validator records damaged, not accepting tickets"),
}

DEVICE_REASONS = tuple(DEVICE_MESSAGES)


def message(code: str) -> dict[str, str]:
    """The screen message for a reason code, in Vietnamese and English."""
    vi, en = MESSAGES[code] if code in MESSAGES else DEVICE_MESSAGES[code]
    return {"vi": vi, "en": en}
