"""Who is calling: app JWTs (RS256, iss = app id, exp at most 10 minutes ahead),
installation tokens, user tokens, or nobody; and what they may do to a repository."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import DOCS, GhError, bad_credentials
from .model import PERMISSION_LEVELS, Account, App, Installation, Repo, State, User

JWT_MAX_LIFETIME = 600
CLOCK_SKEW = 60


def generate_key_pair() -> tuple[str, rsa.RSAPublicKey]:
    """(PEM private key, public key object) for a new app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


@dataclass
class Identity:
    kind: str  # "installation", "user", "app" or "anonymous"
    installation: Installation | None = None
    user: User | None = None
    app: App | None = None
    remote: str = ""

    @property
    def actor(self) -> Account | None:
        """The account GitHub names as `sender` for what this identity does."""
        if self.installation:
            return self.installation.app.bot
        if self.user:
            return self.user.account
        if self.app:
            return self.app.bot
        return None

    @property
    def rate_key(self) -> str:
        if self.installation:
            return f"installation:{self.installation.id}"
        if self.user:
            return f"user:{self.user.account.login.lower()}"
        if self.app:
            return f"app:{self.app.id}"
        return f"ip:{self.remote}"

    @property
    def installation_id(self) -> int | None:
        return self.installation.id if self.installation else None


def _jwt_error(message: str) -> GhError:
    return GhError(401, message, DOCS)


def verify_app_jwt(state: State, token: str) -> App:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        app = state.apps.get(int(claims.get("iss", "")))
    except (jwt.PyJWTError, TypeError, ValueError):
        raise _jwt_error("A JSON web token could not be decoded") from None
    if app is None:
        raise bad_credentials()
    try:
        claims = jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "iss"], "verify_iat": False},
            leeway=0,
        )
    except jwt.ExpiredSignatureError:
        raise _jwt_error(
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires"
        ) from None
    except jwt.PyJWTError:
        raise bad_credentials() from None
    now = time.time()
    if claims["exp"] > now + JWT_MAX_LIFETIME:  # GitHub: at most 10 minutes ahead, no allowance
        raise _jwt_error("'Expiration time' claim ('exp') is too far in the future")
    if not isinstance(claims["iat"], (int, float)) or claims["iat"] > now + CLOCK_SKEW:
        raise _jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        )
    return app


def identity_from_token(state: State, secret: str) -> Identity:
    tok = state.tokens.get(secret)
    if tok is None or tok.expired():
        raise bad_credentials()
    if tok.kind == "installation":
        inst = state.installations.get(tok.installation_id or -1)
        if inst is None:
            raise bad_credentials()
        return Identity("installation", installation=inst)
    user = state.users.get((tok.user_login or "").lower())
    if user is None:
        raise bad_credentials()
    return Identity("user", user=user)


def identify(state: State, authorization: str | None, remote: str = "") -> Identity:
    """Resolve an Authorization header (token, Bearer JWT/token, or Basic) to an identity."""
    if not authorization:
        return Identity("anonymous", remote=remote)
    scheme, _, cred = authorization.strip().partition(" ")
    cred = cred.strip()
    scheme = scheme.lower()
    if scheme in ("token", "bearer"):
        if cred.count(".") == 2:
            ident = Identity("app", app=verify_app_jwt(state, cred))
        else:
            ident = identity_from_token(state, cred)
    elif scheme == "basic":
        try:
            _user, _, password = base64.b64decode(cred).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise bad_credentials() from None
        ident = identity_from_token(state, password)
    else:
        raise bad_credentials()
    ident.remote = remote
    return ident


def repo_level(ident: Identity, repo: Repo, category: str = "contents") -> int:
    """0 none, 1 read, 2 write, 3 admin for `category` (an app permission name)."""
    if ident.installation:
        if repo.id not in ident.installation.repo_ids:
            return 0
        perms = ident.installation.permissions
        level = PERMISSION_LEVELS.get(perms.get(category, "none"), 0)
        if category == "metadata":
            level = max(level, 1)
        if category == "issues":  # PR comments are allowed with pull_requests too
            level = max(level, PERMISSION_LEVELS.get(perms.get("pull_requests", "none"), 0))
        return level
    if ident.user:
        if repo.owner.login.lower() == ident.user.account.login.lower():
            return 3
        return PERMISSION_LEVELS.get(ident.user.permissions.get(repo.id, "none"), 0)
    return 0 if repo.private else 1


def can_see(ident: Identity, repo: Repo) -> bool:
    if ident.installation:
        return repo.id in ident.installation.repo_ids
    return repo_level(ident, repo, "metadata") >= 1


def person_level(state: State, repo: Repo, acct: Account) -> int:
    """A person's level on `repo`'s contents: the owner is admin, a user has what they were given."""
    if acct.id == repo.owner.id:
        return 3
    user = state.users.get(acct.login.lower())
    return repo_level(Identity("user", user=user), repo, "contents") if user else 0
