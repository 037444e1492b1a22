"""The gateway's endpoints: the payment page (``/paymentv2/vpcpay.html``), the tester's
choices, the IPN to the merchant, the merchant API (``/merchant_webapi/api/transaction``)
and a page of every transaction for the tester (``/dev/``)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import flask
import requests

from shared import vnpay

bp = flask.Blueprint("gateway", __name__)

IPN_MODES = ("now", "late", "twice", "hold", "never")
HANOI = dt.timezone(dt.timedelta(hours=7))
BANK_CODE = "NCB"  # the test bank every payment here goes through
DECLINED = "51"  # vnp_ResponseCode: not enough money in the account
NOT_DONE = "01"  # vnp_TransactionStatus: not completed (yet)
FAILED = "02"  # vnp_TransactionStatus: failed
REFUNDED = "05"  # vnp_TransactionStatus of a transaction refunded (whole)
IPN_TIMEOUT = 10

# The merchant API's answers.
API_CODES = {"00": "Request success", "02": "Merchant is not valid",
             "03": "Invalid data format", "91": "Transaction not found",
             "94": "Duplicate request", "95": "Transaction not successful at the gateway",
             "97": "Invalid checksum", "99": "Unknown error"}
REQUIRED = ("vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CreateDate",
            "vnp_CurrCode", "vnp_IpAddr", "vnp_Locale", "vnp_OrderInfo", "vnp_ReturnUrl",
            "vnp_TxnRef", "vnp_SecureHash")


@dataclass(frozen=True)
class Terminal:
    tmn_code: str
    secret: str
    ipn_url: str


@dataclass
class Transaction:
    terminal: Terminal
    txn_ref: str
    amount: str  # as sent: dong times 100
    order_info: str
    return_url: str
    create_date: str
    expire_date: str | None
    state: str = "open"  # open, paid, declined, cancelled, abandoned, refunded
    transaction_no: str = "0"
    response_code: str = ""
    status: str = NOT_DONE
    pay_date: str = ""
    refunded: int = 0  # dong times 100
    deliveries: list = field(default_factory=list)  # (unix time, RspCode or the error)


class Ledger:
    """Every transaction, in memory, behind one lock."""

    def __init__(self, terminals: dict[str, Terminal]):
        self.terminals = terminals
        self.transactions: dict[tuple[str, str], Transaction] = {}
        self.lock = threading.Lock()
        self._numbers = itertools.count(14_000_001)
        self.requests_seen: set[str] = set()

    def next_number(self) -> str:
        return str(next(self._numbers))


def _ledger() -> Ledger:
    return flask.current_app.extensions["gateway"]


def _now_stamp() -> str:
    return dt.datetime.now(HANOI).strftime("%Y%m%d%H%M%S")


def _refuse(code: str, message: str, status: int = 400):
    return flask.render_template("error.html", code=code, message=message), status


# -- the payment page -----------------------------------------------------------------------

@bp.get("/paymentv2/vpcpay.html")
def pay_page():
    fields = flask.request.args.to_dict()
    missing = [name for name in REQUIRED if not fields.get(name)]
    if missing:
        return _refuse("03", f"thiếu trường · missing fields: {', '.join(missing)}")
    terminal = _ledger().terminals.get(fields["vnp_TmnCode"])
    if terminal is None:
        return _refuse("02", "mã website không tồn tại · unknown terminal code")
    if not vnpay.check_query(fields, terminal.secret):
        return _refuse("70", "sai chữ ký · invalid signature")
    if fields["vnp_Version"] != vnpay.VERSION or fields["vnp_Command"] != "pay":
        return _refuse("03", "phiên bản hoặc lệnh sai · wrong version or command")
    if (not fields["vnp_Amount"].isdigit() or int(fields["vnp_Amount"]) <= 0
            or int(fields["vnp_Amount"]) % vnpay.AMOUNT_FACTOR
            or fields["vnp_CurrCode"] != "VND"):
        return _refuse("03", "số tiền không hợp lệ · invalid amount")
    if urlsplit(fields["vnp_ReturnUrl"]).scheme not in ("http", "https"):
        return _refuse("03", "địa chỉ trả về không hợp lệ · invalid return URL")
    expire = fields.get("vnp_ExpireDate")
    if expire and expire < _now_stamp():
        return _refuse("11", "giao dịch đã hết hạn · the payment time is over")
    ledger = _ledger()
    key = (terminal.tmn_code, fields["vnp_TxnRef"])
    with ledger.lock:
        txn = ledger.transactions.get(key)
        if txn is not None and txn.state != "open":
            return _refuse("94", f"giao dịch {txn.txn_ref} đã {txn.state} · the transaction "
                                 f"is already {txn.state}", 409)
        if txn is None or txn.amount != fields["vnp_Amount"]:
            txn = Transaction(terminal, fields["vnp_TxnRef"], fields["vnp_Amount"],
                              fields["vnp_OrderInfo"], fields["vnp_ReturnUrl"],
                              fields["vnp_CreateDate"], expire)
            ledger.transactions[key] = txn
    return flask.render_template("pay.html", txn=txn,
                                 dong=int(txn.amount) // vnpay.AMOUNT_FACTOR, modes=IPN_MODES)


@bp.post("/paymentv2/<tmn_code>/<txn_ref>")
def decide(tmn_code: str, txn_ref: str):
    """The tester's choice on the payment page."""
    ledger = _ledger()
    action = flask.request.form.get("action")
    mode = flask.request.form.get("ipn", "now")
    if action not in ("pay", "decline", "cancel", "abandon") or mode not in IPN_MODES:
        return _refuse("03", "lựa chọn không hợp lệ · unknown choice")
    with ledger.lock:
        txn = ledger.transactions.get((tmn_code, txn_ref))
        if txn is None:
            return _refuse("91", "không tìm thấy giao dịch · no such transaction", 404)
        if txn.state != "open":
            return _refuse("94", f"giao dịch đã {txn.state} · already {txn.state}", 409)
        if action == "abandon":
            txn.state = "abandoned"
            return flask.render_template("left.html", txn=txn)
        txn.transaction_no = ledger.next_number()
        txn.pay_date = _now_stamp()
        if action == "pay":
            txn.state, txn.response_code, txn.status = "paid", vnpay.SUCCESS, vnpay.SUCCESS
        elif action == "decline":
            txn.state, txn.response_code, txn.status = "declined", DECLINED, FAILED
        else:
            txn.state = "cancelled"
            txn.response_code, txn.status = vnpay.CANCELLED_BY_PAYER, FAILED
        query = _result_query(txn)
    if action != "cancel":  # a payer who cancels is sent back; the merchant is not called
        _send_ipn(flask.current_app, txn, query, mode)
    return flask.redirect(f"{txn.return_url}?{query}", 302)


def _result_query(txn: Transaction) -> str:
    fields = {"vnp_Amount": txn.amount, "vnp_BankCode": BANK_CODE,
              "vnp_BankTranNo": f"VNP{txn.transaction_no}", "vnp_CardType": "ATM",
              "vnp_OrderInfo": txn.order_info, "vnp_PayDate": txn.pay_date,
              "vnp_ResponseCode": txn.response_code, "vnp_TmnCode": txn.terminal.tmn_code,
              "vnp_TransactionNo": txn.transaction_no, "vnp_TransactionStatus": txn.status,
              "vnp_TxnRef": txn.txn_ref}
    return vnpay.signed_query(fields, txn.terminal.secret)


# -- the IPN --------------------------------------------------------------------------------

def _send_ipn(app: flask.Flask, txn: Transaction, query: str, mode: str) -> None:
    if mode in ("never", "hold"):
        return
    delay = app.config["IPN_DELAY"] if mode == "late" else 0.0
    for _ in range(2 if mode == "twice" else 1):  # twice: both at once, a race to settle
        threading.Thread(target=_deliver, daemon=True,
                         args=(txn, query, delay, app.config["IPN_RETRIES"],
                               app.config["IPN_RETRY_DELAY"])).start()


def _deliver(txn: Transaction, query: str, delay: float, retries: int,
             retry_delay: float) -> None:
    """Call the merchant's IPN URL until it confirms (00 or 02), at most ``retries`` more
    times; every call's answer goes in the transaction's deliveries."""
    time.sleep(delay)
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(retry_delay)
        try:
            response = requests.get(f"{txn.terminal.ipn_url}?{query}", timeout=IPN_TIMEOUT)
            code = str(response.json().get("RspCode"))
        except (requests.RequestException, ValueError, AttributeError) as exc:
            code = f"error: {type(exc).__name__}"
        txn.deliveries.append((time.time(), code))
        if code in vnpay.IPN_FINAL:
            return


@bp.post("/dev/<tmn_code>/<txn_ref>/ipn")
def send_ipn(tmn_code: str, txn_ref: str):
    """The tester sends a held IPN now (or again)."""
    txn = _ledger().transactions.get((tmn_code, txn_ref))
    if txn is None or txn.state in ("open", "abandoned", "cancelled"):
        return _refuse("91", "không có kết quả để gửi · nothing to send", 404)
    _send_ipn(flask.current_app, txn, _result_query(txn), "now")
    return flask.redirect(flask.url_for("gateway.transactions"), 303)


@bp.get("/dev/")
def transactions():
    return flask.render_template("transactions.html",
                                 transactions=list(_ledger().transactions.values()))


@bp.get("/dev/transactions.json")
def transactions_json():
    return {"transactions": [
        {"tmn_code": t.terminal.tmn_code, "txn_ref": t.txn_ref, "amount": t.amount,
         "state": t.state, "transaction_no": t.transaction_no, "refunded": t.refunded,
         "deliveries": [{"at": at, "answer": code} for at, code in list(t.deliveries)]}
        for t in list(_ledger().transactions.values())]}


# -- the merchant API -----------------------------------------------------------------------

@bp.post(vnpay.API_PATH)
def merchant_api():
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"vnp_ResponseCode": "03", "vnp_Message": API_CODES["03"]}
    terminal = _ledger().terminals.get(str(body.get("vnp_TmnCode")))
    command = body.get("vnp_Command")
    if terminal is None:
        return {"vnp_ResponseCode": "02", "vnp_Message": API_CODES["02"]}
    order = vnpay.QUERY_REQUEST if command == "querydr" else vnpay.REFUND_REQUEST
    if command not in ("querydr", "refund"):
        return _answer(terminal, body, "03", None)
    if not vnpay.check_api(body, order, terminal.secret):
        return _answer(terminal, body, "97", None)
    ledger = _ledger()
    with ledger.lock:
        request_id = str(body.get("vnp_RequestId"))
        if request_id in ledger.requests_seen:
            return _answer(terminal, body, "94", None)
        ledger.requests_seen.add(request_id)
        txn = ledger.transactions.get((terminal.tmn_code, str(body.get("vnp_TxnRef"))))
        if txn is None:
            return _answer(terminal, body, "91", None)
        if command == "refund":
            code = _refund(txn, body)
            if code != "00":
                return _answer(terminal, body, code, txn)
        return _answer(terminal, body, "00", txn)


def _refund(txn: Transaction, body: dict) -> str:
    amount = str(body.get("vnp_Amount", ""))
    if txn.state not in ("paid", "refunded"):
        return "95"
    if (not amount.isdigit() or str(body.get("vnp_TransactionNo")) != txn.transaction_no
            or body.get("vnp_TransactionType") not in ("02", "03")):
        return "03"
    if not 0 < int(amount) <= int(txn.amount) - txn.refunded:
        return "03"
    txn.refunded += int(amount)
    if txn.refunded == int(txn.amount):
        txn.state, txn.status = "refunded", REFUNDED
    return "00"


def _answer(terminal: Terminal, body: dict, code: str, txn: Transaction | None) -> dict:
    command = body.get("vnp_Command")
    out = {"vnp_ResponseId": body.get("vnp_RequestId") or "", "vnp_Command": command or "",
           "vnp_ResponseCode": code, "vnp_Message": API_CODES[code],
           "vnp_TmnCode": terminal.tmn_code, "vnp_TxnRef": body.get("vnp_TxnRef") or "",
           "vnp_Amount": "", "vnp_BankCode": "", "vnp_PayDate": "", "vnp_TransactionNo": "",
           "vnp_TransactionType": "01" if command == "querydr" else
           body.get("vnp_TransactionType") or "", "vnp_TransactionStatus": "",
           "vnp_OrderInfo": body.get("vnp_OrderInfo") or ""}
    if txn is not None:
        out.update({"vnp_Amount": txn.amount if command == "querydr" else body["vnp_Amount"],
                    "vnp_BankCode": BANK_CODE if txn.state != "open" else "",
                    "vnp_PayDate": txn.pay_date, "vnp_TransactionNo": txn.transaction_no,
                    "vnp_TransactionStatus": txn.status, "vnp_OrderInfo": txn.order_info})
    fields = vnpay.QUERY_ANSWER if command == "querydr" else vnpay.REFUND_ANSWER
    if command == "querydr":
        out.update({"vnp_PromotionCode": "", "vnp_PromotionAmount": ""})
    out[vnpay.HASH_FIELD] = vnpay.sign_api(out, fields, terminal.secret)
    return out
