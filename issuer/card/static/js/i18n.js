// What the card says, in Vietnamese (the default) and English. Words only: the card never
// talks about how it works inside.

const HANOI = "Asia/Ho_Chi_Minh";
const STORAGE_KEY = "vexe-card-lang";

const TEXT = {
  vi: {
    title: "Thẻ vé xe buýt",
    other_language: "English",
    loading: "Đang tải thẻ…",
    online: "Đang có mạng",
    offline: "Không có mạng",
    born: "Ngày sinh",
    photo_of: "Ảnh của {name}",
    kind: "Loại thẻ",
    routes: "Tuyến",
    valid: "Hiệu lực",
    product_single: "Vé tháng đơn tuyến",
    product_multi: "Vé tháng liên tuyến",
    product_free: "Thẻ miễn phí",
    all_routes: "Tất cả các tuyến",
    route: "Tuyến {code}",
    month: "Tháng {month}/{year}",
    period: "{from} đến {to}",
    qr_label: "Mã QR của thẻ. Đưa mã vào máy soát vé khi lên xe.",
    countdown: "Mã mới sau {n} giây",
    offline_until: "Dùng được khi không có mạng đến {time} (còn {left}).",
    pass_number: "Số thẻ",
    your_passes: "Thẻ của bạn",
    choice_revoked: "đã thu hồi",
    choice_expired: "đã hết hạn",
    choice_later: "chưa đến ngày",
    account: "Tài khoản, mua vé",
    signin_title: "Đăng nhập để xem thẻ",
    signin_body: "Hãy đăng nhập bằng tài khoản định danh điện tử (VNeID).",
    signin: "Đăng nhập",
    no_pass_title: "Bạn chưa có thẻ",
    no_pass_body: "Mua vé tháng, hoặc nhận thẻ miễn phí nếu bạn thuộc đối tượng được miễn.",
    buy: "Mua vé tháng",
    free: "Nhận thẻ miễn phí",
    activate_title: "Thẻ chưa dùng trên điện thoại này",
    activate_body: "Bấm nút dưới đây để dùng thẻ trên điện thoại này. Mỗi thẻ chỉ dùng trên một điện thoại.",
    activate_elsewhere: "Thẻ đang dùng trên một điện thoại khác. Nếu kích hoạt ở đây, điện thoại kia sẽ không dùng được thẻ nữa.",
    activate: "Kích hoạt thẻ trên điện thoại này",
    activate_again: "Kích hoạt lại trên điện thoại này",
    activating: "Đang kích hoạt…",
    activate_offline: "Cần có mạng để kích hoạt thẻ. Hãy bật Wi-Fi hoặc dữ liệu di động.",
    activate_failed: "Chưa kích hoạt được: {reason}. Hãy thử lại.",
    not_yet_valid_title: "Thẻ chưa đến ngày sử dụng",
    not_yet_valid_body: "Thẻ dùng được từ {date}. Từ ngày đó, mã QR sẽ hiện ở đây.",
    expired_title: "Thẻ đã hết hạn",
    expired_body: "Thẻ chỉ dùng được đến hết ngày {date}.",
    expired_monthly: "Hãy mua vé tháng mới.",
    expired_free: "Hãy xin cấp lại thẻ miễn phí.",
    revoked_title: "Thẻ đã bị thu hồi",
    revoked_body: "Mã QR của thẻ này không còn dùng được.",
    revoked_reason: "Lý do: {reason}",
    revoked_next: "Nếu bạn cần hỏi, hãy đến quầy bán vé hoặc gọi tổng đài xe buýt.",
    replaced_title: "Thẻ đã được kích hoạt trên điện thoại khác",
    replaced_body: "Mã QR trên điện thoại này không còn dùng được. Nếu bạn muốn dùng thẻ trên điện thoại này, hãy kích hoạt lại; điện thoại kia sẽ ngừng.",
    removed_title: "Thẻ đã được gỡ khỏi điện thoại này",
    removed_body: "Thẻ đã được gỡ khỏi điện thoại này (báo mất điện thoại). Nếu bạn đã tìm lại điện thoại, hãy kích hoạt lại.",
    clock_title: "Đồng hồ điện thoại không đúng giờ",
    clock_fast: "Điện thoại đang nhanh {by}.",
    clock_slow: "Điện thoại đang chậm {by}.",
    clock_body: "Máy soát vé sẽ không nhận mã QR. Hãy vào Cài đặt › Ngày và giờ, bật chỉnh giờ tự động, rồi bấm Kiểm tra lại.",
    check_again: "Kiểm tra lại",
    offline_long_title: "Cần kết nối mạng để gia hạn thẻ",
    offline_long_body: "Thẻ đã không kết nối mạng quá lâu nên ngừng dùng được từ {time}. Hãy bật Wi-Fi hoặc dữ liệu di động; thẻ sẽ tự gia hạn.",
    renewing_title: "Đang gia hạn thẻ…",
    renewing_body: "Xin chờ một chút.",
    custodial_note: "Điện thoại này không tự tạo được mã QR. Mã do hệ thống cấp và chỉ hiện khi có mạng.",
    custodial_offline_title: "Cần có mạng để hiện mã QR",
    custodial_offline_body: "Điện thoại này không tự tạo được mã QR; mã do hệ thống cấp khi có mạng. Hãy bật Wi-Fi hoặc dữ liệu di động.",
    error_title: "Không tải được thẻ",
    error_body: "{reason}. Hãy thử lại sau.",
    retry: "Thử lại",
    days: "{d} ngày {h} giờ",
    hours: "{h} giờ {m} phút",
    minutes: "{m} phút",
    seconds: "{s} giây",
  },
  en: {
    title: "Bus pass",
    other_language: "Tiếng Việt",
    loading: "Loading the card…",
    online: "Online",
    offline: "No internet",
    born: "Born",
    photo_of: "Photo of {name}",
    kind: "Pass",
    routes: "Routes",
    valid: "Valid",
    product_single: "Monthly pass, one route",
    product_multi: "Monthly pass, all routes",
    product_free: "Free pass",
    all_routes: "All routes",
    route: "Route {code}",
    month: "{monthName} {year}",
    period: "{from} to {to}",
    qr_label: "The pass's QR code. Hold it to the validator when you board.",
    countdown: "New code in {n} s",
    offline_until: "Works without internet until {time} ({left} left).",
    pass_number: "Pass no.",
    your_passes: "Your passes",
    choice_revoked: "revoked",
    choice_expired: "expired",
    choice_later: "not yet valid",
    account: "Account, buy a pass",
    signin_title: "Sign in to see your pass",
    signin_body: "Sign in with your national e-ID account (VNeID).",
    signin: "Sign in",
    no_pass_title: "You have no pass yet",
    no_pass_body: "Buy a monthly pass, or get a free pass if you are eligible.",
    buy: "Buy a monthly pass",
    free: "Get a free pass",
    activate_title: "The pass is not on this phone yet",
    activate_body: "Press the button below to use the pass on this phone. A pass works on one phone at a time.",
    activate_elsewhere: "The pass is on another phone. If you activate it here, it stops working on the other phone.",
    activate: "Activate the pass on this phone",
    activate_again: "Activate again on this phone",
    activating: "Activating…",
    activate_offline: "Activating needs the internet. Turn on Wi-Fi or mobile data.",
    activate_failed: "Not activated: {reason}. Please try again.",
    not_yet_valid_title: "The pass is not valid yet",
    not_yet_valid_body: "It can be used from {date}. From then, its QR code shows here.",
    expired_title: "The pass has expired",
    expired_body: "It could be used until the end of {date}.",
    expired_monthly: "Buy a new monthly pass.",
    expired_free: "Ask for your free pass again.",
    revoked_title: "The pass has been revoked",
    revoked_body: "Its QR code no longer works.",
    revoked_reason: "Reason: {reason}",
    revoked_next: "If you have questions, go to a ticket counter or call the bus helpline.",
    replaced_title: "The pass was activated on another phone",
    replaced_body: "The QR code on this phone no longer works. To use the pass on this phone, activate it again; the other phone will stop.",
    removed_title: "The pass was taken off this phone",
    removed_body: "The pass was taken off this phone (reported lost). If you found the phone again, activate the pass again.",
    clock_title: "The phone's clock is wrong",
    clock_fast: "The phone is {by} fast.",
    clock_slow: "The phone is {by} slow.",
    clock_body: "Validators will refuse the QR code. Go to Settings › Date & time, turn on automatic time, then press Check again.",
    check_again: "Check again",
    offline_long_title: "Connect to the internet to renew the pass",
    offline_long_body: "The card has been without internet too long and stopped working at {time}. Turn on Wi-Fi or mobile data; the card renews itself.",
    renewing_title: "Renewing the pass…",
    renewing_body: "Please wait a moment.",
    custodial_note: "This phone cannot make the QR code itself. The code comes from the ticket system and shows only when online.",
    custodial_offline_title: "The QR code needs the internet",
    custodial_offline_body: "This phone cannot make the QR code itself; the ticket system sends it when online. Turn on Wi-Fi or mobile data.",
    error_title: "The card could not load",
    error_body: "{reason}. Please try again later.",
    retry: "Try again",
    days: "{d} d {h} h",
    hours: "{h} h {m} min",
    minutes: "{m} min",
    seconds: "{s} s",
  },
};

let lang = "vi";
try {
  lang = localStorage.getItem(STORAGE_KEY) === "en" ? "en" : "vi";
} catch (ignored) {
  // storage refused (private mode): Vietnamese, as for everyone
}

export function current() {
  return lang;
}

export function toggle() {
  lang = lang === "vi" ? "en" : "vi";
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch (ignored) {
    // the choice lasts this page only
  }
  return lang;
}

export function t(key, values = {}) {
  const template = TEXT[lang][key] ?? TEXT.vi[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function parts(at, options) {
  const format = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB",
                                         { timeZone: HANOI, ...options });
  return Object.fromEntries(format.formatToParts(new Date(at * 1000))
    .map((p) => [p.type, p.value]));
}

// A day, in Hanoi time: 20/11/2026, or 20 Nov 2026.
export function day(at) {
  if (lang === "vi") {
    const p = parts(at, { day: "2-digit", month: "2-digit", year: "numeric" });
    return `${p.day}/${p.month}/${p.year}`;
  }
  const p = parts(at, { day: "numeric", month: "short", year: "numeric" });
  return `${p.day} ${p.month} ${p.year}`;
}

// A moment, in Hanoi time: 14:05 ngày 20/11/2026, or 14:05, 20 Nov 2026.
export function moment(at) {
  const p = parts(at, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return lang === "vi" ? `${p.hour}:${p.minute} ngày ${day(at)}` : `${p.hour}:${p.minute}, ${day(at)}`;
}

export function month(at) {
  const p = parts(at, { month: "numeric", year: "numeric" });
  const name = parts(at, { month: "long" }).month;
  return t("month", { month: p.month, year: p.year, monthName: name });
}

// How far a clock is off: seconds while that is what a rider can check against.
export function offBy(seconds) {
  const s = Math.round(Math.abs(seconds));
  return s < 120 ? t("seconds", { s }) : duration(s);
}

export function duration(seconds) {
  const minutes = Math.max(0, Math.floor(seconds / 60));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return t("days", { d, h });
  if (h > 0) return t("hours", { h, m });
  return t("minutes", { m });
}
