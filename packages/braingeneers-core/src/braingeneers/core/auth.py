"""Service-account tokens for the lab's web services (``Authorization: Bearer <JWT>``).

A token is the JSON ``{"access_token": "<JWT>", "expires_at": "YYYY-MM-DD HH:MM:SS UTC"}``
issued by the service-accounts page (``TOKEN_URL``, or ``BRAINGENEERS_TOKEN_URL``).

**Where tokens are read from**, first found wins:

1. an explicit ``path`` argument;
2. ``BRAINGENEERS_TOKEN_FILE``;
3. the user config directory: ``$XDG_CONFIG_HOME/braingeneers/service_account.json``
   (``~/.config/braingeneers/service_account.json``);
4. read-only, the legacy location ``<braingeneers.iot package>/service_account/config.json``
   where Kubernetes jobs mount the secret.

Tokens are written to the first of 1-3 (never into site-packages), atomically (temporary
file + rename), mode 0600 in a 0700 directory, under a file lock.

**Expiry** comes from the JWT's own ``exp`` claim (decoded without verifying the
signature), with ``expires_at`` as fallback; all times are timezone-aware UTC. When less
than the refresh margin remains (21 days, ``BRAINGENEERS_TOKEN_REFRESH_DAYS``), the token
is refreshed from the same URL with the current token as Bearer. A failed refresh keeps the
old token while it is valid and logs a warning; only an unusable token raises
:class:`~braingeneers.core.errors.AuthError`. One :class:`TokenProvider` per process
(:func:`default_provider`) is shared by every HTTP client. The token never appears in a
``repr``, a log line or an exception message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from braingeneers.core.atomic import locked, write_atomically
from braingeneers.core.errors import AuthError

__all__ = [
    "TOKEN_URL",
    "Token",
    "TokenProvider",
    "default_provider",
    "parse_token",
    "token_locations",
    "verify_token",
]

TOKEN_URL = "https://service-accounts.braingeneers.gi.ucsc.edu/generate_token"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    """A service-account token. Its ``repr`` never shows the token itself."""

    access_token: str = field(repr=False)
    expires_at: datetime
    source: Path | None = None

    def remaining(self, now: datetime | None = None) -> timedelta:
        """Time left before expiry."""
        return self.expires_at - (now or datetime.now(timezone.utc))

    def to_json(self) -> str:
        """Return the issuer's JSON form."""
        stamp = self.expires_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return json.dumps({"access_token": self.access_token, "expires_at": stamp}, indent=2) + "\n"


def parse_token(text: str | bytes, source: str | Path = "token") -> Token:
    """Parse and validate the issuer's token JSON.

    Raises
    ------
    ~braingeneers.core.errors.AuthError
        Not JSON, no ``access_token``, an ``access_token`` that is not a JWT, or no usable expiry.
    """
    import jwt

    where = f"{source}"
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise AuthError(f"{where} is not JSON: paste the whole answer of the service-accounts page") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("access_token"), str)
        or not data["access_token"]
    ):
        raise AuthError(f"{where} has no 'access_token' string: get a new token (braingeneers auth login)")
    try:
        claims: dict[str, Any] = jwt.decode(data["access_token"], options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError(
            f"{where}: 'access_token' is not a JWT; get a new token (braingeneers auth login)"
        ) from None
    expires: datetime | None = None
    if isinstance(claims.get("exp"), (int, float)):
        expires = datetime.fromtimestamp(claims["exp"], tz=timezone.utc)
    elif isinstance(data.get("expires_at"), str):
        try:
            expires = datetime.strptime(data["expires_at"], "%Y-%m-%d %H:%M:%S UTC").replace(
                tzinfo=timezone.utc
            )
        except ValueError:
            raise AuthError(f"{where}: 'expires_at' is not 'YYYY-MM-DD HH:MM:SS UTC'") from None
    if expires is None:
        raise AuthError(f"{where}: the token has no 'exp' claim and no 'expires_at'")
    return Token(data["access_token"], expires, Path(source) if not isinstance(source, Path) else source)


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "braingeneers"


def _legacy_location() -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec("braingeneers.iot")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "service_account" / "config.json"


def token_locations(path: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the token files in search order (see the module documentation)."""
    found: list[Path] = []
    if path is not None:
        found.append(Path(path).expanduser())
    if os.environ.get("BRAINGENEERS_TOKEN_FILE"):
        found.append(Path(os.environ["BRAINGENEERS_TOKEN_FILE"]).expanduser())
    found.append(_config_dir() / "service_account.json")
    legacy = _legacy_location()
    if legacy is not None:
        found.append(legacy)
    return found


def _write_token(target: Path, text: str) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(target.parent, 0o700)
    write_atomically(target, text.encode(), file_mode=0o600)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect (e.g. to a login page) is an answer to report, not to follow


class TokenProvider:
    """Load, refresh and store the service-account token; share one per process.

    Parameters
    ----------
    path
        Explicit token file (first in the search order, and where refreshed tokens go).
    url
        Token service URL (``BRAINGENEERS_TOKEN_URL`` or ``TOKEN_URL``).
    margin
        Refresh when less than this remains (``BRAINGENEERS_TOKEN_REFRESH_DAYS``, default 21 days).
    timeout
        Seconds for the refresh request.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        url: str | None = None,
        margin: timedelta | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self.url = url or os.environ.get("BRAINGENEERS_TOKEN_URL") or TOKEN_URL
        days = float(os.environ.get("BRAINGENEERS_TOKEN_REFRESH_DAYS", "21"))
        self.margin = margin if margin is not None else timedelta(days=days)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: Token | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(path={self.path}, url={self.url!r})"

    @property
    def write_location(self) -> Path:
        """Where a new or refreshed token is stored (never the read-only legacy location)."""
        return token_locations(self.path)[0]

    def load(self) -> Token | None:
        """Read the first token file that exists, or ``None``."""
        for location in token_locations(self.path):
            if location.is_file():
                return parse_token(location.read_bytes(), location)
        return None

    def store(self, token: Token) -> Path:
        """Write ``token`` to :attr:`write_location` (atomic, 0600, locked)."""
        target = self.write_location
        with locked(target, dir_mode=0o700):
            _write_token(target, token.to_json())
        with self._lock:
            self._token = Token(token.access_token, token.expires_at, target)
        return target

    def _fetch(self, current: Token) -> Token:
        request = urllib.request.Request(
            self.url,
            headers={"Authorization": f"Bearer {current.access_token}", "Accept": "application/json"},
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise AuthError(f"token refresh at {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AuthError(f"token refresh at {self.url} failed: {reason}") from None
        if status != 200:
            raise AuthError(f"token refresh at {self.url} answered HTTP {status}")
        return parse_token(body, f"the answer of {self.url}")

    def refresh(self, force: bool = False) -> Token:
        """Refresh the stored token if it is close to expiry (or ``force``), and return the token in use.

        Raises
        ------
        ~braingeneers.core.errors.AuthError
            No token, or it is expired and cannot be refreshed.
        """
        target = self.write_location
        with locked(target, dir_mode=0o700):
            current = self.load()  # re-read under the lock: another process may have refreshed
            if current is None:
                raise AuthError(
                    f"no service-account token in {', '.join(map(str, token_locations(self.path)))}: "
                    "run 'braingeneers auth login'"
                )
            if force or current.remaining() < self.margin:
                try:
                    fresh = self._fetch(current)
                except AuthError as exc:
                    if current.remaining() > timedelta(0):
                        _log.warning("%s; keeping the current token, valid until %s", exc, current.expires_at)
                    else:
                        raise AuthError(f"{exc}; the stored token expired at {current.expires_at}") from None
                else:
                    _write_token(target, fresh.to_json())
                    current = Token(fresh.access_token, fresh.expires_at, target)
        with self._lock:
            self._token = current
        return current

    def token(self) -> str:
        """Return a usable access token, refreshing it first when it is close to expiry."""
        with self._lock:
            cached = self._token
        if cached is None or cached.remaining() < self.margin:
            cached = self.refresh()
        if cached.remaining() <= timedelta(0):
            raise AuthError(
                f"the service-account token expired at {cached.expires_at}: run 'braingeneers auth login'"
            )
        return cached.access_token

    def headers(self) -> dict[str, str]:
        """Return ``{"Authorization": "Bearer <token>"}`` for an HTTP request."""
        return {"Authorization": f"Bearer {self.token()}"}

    def logout(self) -> list[Path]:
        """Delete the writable token files; return what was removed (the legacy location is left alone)."""
        removed: list[Path] = []
        legacy = _legacy_location()
        for location in token_locations(self.path):
            if location != legacy and location.is_file():
                location.unlink()
                removed.append(location)
        with self._lock:
            self._token = None
        return removed


_default: TokenProvider | None = None
_default_lock = threading.Lock()


def default_provider() -> TokenProvider:
    """Return the process-wide :class:`TokenProvider` shared by every HTTP client."""
    global _default  # noqa: PLW0603 - one provider per process, by design
    with _default_lock:
        if _default is None:
            _default = TokenProvider()
        return _default


def verify_token(token: str, jwks_url: str, audience: str, issuer: str) -> dict[str, Any]:
    """Verify a JWT's signature, audience and issuer against a JWKS URL and return its claims (for services).

    Raises
    ------
    ~braingeneers.core.errors.AuthError
        The token is invalid for any reason.
    """
    import jwt

    try:
        key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=["RS256", "ES256"], audience=audience, issuer=issuer
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"token rejected: {type(exc).__name__}") from None
    return claims
