"""The provider's endpoints, on Authlib's OAuth 2.0 / OpenID Connect server."""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

import flask
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey

from idp.citizens import BY_SUB, CITIZENS, Citizen, photo_png

CODE_LIFETIME = 60
TOKEN_LIFETIME = 600
ID_TOKEN_LIFETIME = 300
SCOPES = ("openid", "profile", "national_id")

bp = flask.Blueprint("idp", __name__)


# -- the stores: in memory, one lock -------------------------------------------------------

@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    client_metadata: dict = field(default_factory=dict)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: int

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() > self.expires_at


@dataclass
class Token:
    access_token: str
    client_id: str
    scope: str
    sub: str
    issued_at: int
    expires_in: int

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return False

    def get_user(self):
        return BY_SUB[self.sub]

    def get_client(self):
        return _store().clients[self.client_id]


class Store:
    def __init__(self, clients: list[dict]):
        self.lock = threading.Lock()
        self.clients = {c["client_id"]: Client(c["client_id"], c["client_secret"],
                                               list(c["redirect_uris"])) for c in clients}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.nonces: set[tuple[str, str]] = set()


def _store() -> Store:
    return flask.current_app.extensions["idp_store"]


# -- grants ----------------------------------------------------------------------------------

class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        store = _store()
        with store.lock:
            store.codes[code] = Code(
                code=code, client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri, scope=request.payload.scope,
                sub=request.user.sub, nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=int(time.time()), expires_at=int(time.time()) + CODE_LIFETIME)
            if data.get("nonce"):
                store.nonces.add((request.client.client_id, data["nonce"]))

    def query_authorization_code(self, code, client):
        found = _store().codes.get(code)
        if found is not None and found.client_id == client.client_id and not found.is_expired():
            return found
        return None

    def delete_authorization_code(self, authorization_code):
        with _store().lock:
            _store().codes.pop(authorization_code.code, None)  # a code is good once

    def authenticate_user(self, authorization_code):
        return BY_SUB.get(authorization_code.sub)


class StrictCodeChallenge(CodeChallenge):
    """PKCE with S256 for every client, confidential or not, as the strictest providers ask."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if grant.request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.code_challenge_method


def user_info(citizen: Citizen, scope: str) -> UserInfo:
    info = UserInfo(sub=citizen.sub)
    scopes = (scope or "").split()
    if "profile" in scopes:
        info.update(name=citizen.name, birthdate=citizen.birthdate,
                    picture=f"{flask.current_app.config['ISSUER']}/photos/{citizen.sub}.png",
                    identity_level=citizen.level)
    if "national_id" in scopes:
        info["national_id"] = citizen.national_id
    return info


class IdentityCode(OpenIDCode):
    def __init__(self):
        super().__init__(require_nonce=True)

    def exists_nonce(self, nonce, request):
        return (request.payload.client_id, nonce) in _store().nonces

    def resolve_client_private_key(self, client):
        if flask.current_app.config.get("FAULT") == "unknown_key":
            return RSAKey.generate_key(2048, parameters={
                "kid": flask.current_app.extensions["idp_key"].kid, "alg": "RS256"})
        return flask.current_app.extensions["idp_key"]

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": flask.current_app.extensions["idp_key"].kid}

    def get_client_claims(self, client):
        fault = flask.current_app.config.get("FAULT")
        now = int(time.time())
        claims = {"iss": flask.current_app.config["ISSUER"], "aud": [client.client_id],
                  "iat": now, "exp": now + ID_TOKEN_LIFETIME}
        if fault == "issuer":
            claims["iss"] = "https://impostor.example"
        elif fault == "audience":
            # Issued to another client, naming this one as authorized party: a relying party
            # that checks only azp would take it.
            claims["aud"], claims["azp"] = "another-client", client.client_id
        elif fault == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        return claims

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if flask.current_app.config.get("FAULT") == "nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        return claims

    def generate_user_info(self, user, scope):
        return user_info(user, scope)

    def encode_id_token(self, token, request):
        id_token = super().encode_id_token(token, request)
        if flask.current_app.config.get("FAULT") == "signature":
            # The payload changed after signing: what an attacker editing a token makes.
            header, payload, signature = id_token.split(".")
            claims = flask.json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["birthdate"] = "1940-01-01"
            payload = base64.urlsafe_b64encode(flask.json.dumps(claims).encode()).rstrip(b"=")
            id_token = f"{header}.{payload.decode()}.{signature}"
        return id_token


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return _store().tokens.get(token_string)


class IdentityUserInfo(UserInfoEndpoint):
    def get_issuer(self):
        return flask.current_app.config["ISSUER"]

    def generate_user_info(self, user, scope):
        return user_info(user, scope)

    def resolve_private_key(self):
        return flask.current_app.extensions["idp_key"]


def _save_token(token: dict, request) -> None:
    store = _store()
    with store.lock:
        store.tokens[token["access_token"]] = Token(
            token["access_token"], request.client.client_id, token.get("scope", ""),
            request.user.sub, int(time.time()), token.get("expires_in", TOKEN_LIFETIME))


def init_app(app: flask.Flask) -> None:
    app.extensions["idp_store"] = Store(app.config.get("CLIENTS", []))
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": TOKEN_LIFETIME}
    authorization = AuthorizationServer(
        app, query_client=lambda cid: app.extensions["idp_store"].clients.get(cid),
        save_token=_save_token)
    authorization.register_grant(AuthorizationCodeGrant,
                                 [IdentityCode(), StrictCodeChallenge(required=True)])
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    authorization.register_endpoint(IdentityUserInfo(resource_protector=protector))
    app.extensions["idp_server"] = authorization
    app.register_blueprint(bp)


def _server() -> AuthorizationServer:
    return flask.current_app.extensions["idp_server"]


# -- endpoints -------------------------------------------------------------------------------

@bp.get("/.well-known/openid-configuration")
def discovery():
    issuer = flask.current_app.config["ISSUER"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES),
        "claims_supported": ["sub", "name", "birthdate", "picture", "identity_level",
                             "national_id", "nonce", "iss", "aud", "exp", "iat"],
    }


@bp.get("/jwks.json")
def jwks():
    return {"keys": [flask.current_app.extensions["idp_key"].as_dict(private=False)]}


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """The national app's sign-in, reduced to choosing a test citizen."""
    try:
        grant = _server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return flask.render_template("error.html", error=error.error,
                                     description=error.description), 400
    if flask.request.method == "GET":
        client = grant.client
        return flask.render_template("choose.html", citizens=CITIZENS, client=client.client_id)
    citizen = BY_SUB.get(flask.request.form.get("sub", ""))
    if citizen is None:
        return _server().create_authorization_response(grant=grant, grant_user=None)  # denied
    return _server().create_authorization_response(grant=grant, grant_user=citizen)


@bp.post("/token")
def token():
    return _server().create_token_response()


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return _server().create_endpoint_response("userinfo")


@bp.get("/photos/<sub>.png")
def photo(sub: str):
    citizen = BY_SUB.get(sub)
    if citizen is None:
        flask.abort(404)
    response = flask.make_response(photo_png(citizen))
    response.content_type = "image/png"
    return response
