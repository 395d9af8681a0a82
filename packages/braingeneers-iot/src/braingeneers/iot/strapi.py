"""A small JSON-over-HTTP client for the lab's Strapi 4 REST API.

Every request has a timeout, URL-encoded query values and a checked status:
401/403 and redirects (the proxy's login page) raise
:class:`~braingeneers.core.errors.AuthError`, 404 raises
:class:`~braingeneers.core.errors.NotFoundError` and 5xx or an unreachable
server raises :class:`~braingeneers.core.errors.StorageError` carrying the
response text. Idempotent requests (GET, PUT, DELETE) are retried on 5xx and
connection errors; POST is not. The Bearer token comes from core's shared
token provider and never appears in a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from braingeneers.core.errors import AuthError, ConfigError, NotFoundError, StorageError

__all__ = ["PAGE_SIZE", "HeaderSource", "StrapiClient", "env_flag", "flatten_filters"]

_log = logging.getLogger(__name__)

PAGE_SIZE = 100
"""Rows per page, the production server's ``maxLimit``."""

_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class HeaderSource(Protocol):
    """Anything with ``headers()`` returning the Authorization header (core's ``TokenProvider``)."""

    def headers(self) -> dict[str, str]:
        """Return the headers to add to a request."""
        ...


def env_flag(argument: bool | None, names: Sequence[str], default: bool = True) -> bool:
    """Resolve a boolean setting: the argument, then each environment variable in turn, then the default.

    Values ``0``, ``false``, ``no``, ``off`` and the empty string (any case, trimmed) mean false;
    anything else means true.
    """
    if argument is not None:
        return argument
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            return value.strip().lower() not in _FALSE
    return default


def flatten_filters(filters: Mapping[str, Any], prefix: str = "filters") -> list[tuple[str, str]]:
    """Turn a nested filter mapping into Strapi's bracketed query pairs.

    ``{"name": {"$eq": "a&b"}}`` becomes ``[("filters[name][$eq]", "a&b")]``; lists become
    numbered entries (``$or``, ``$in``); booleans become ``true``/``false``. Values are encoded
    later, by ``urllib.parse.urlencode``.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in filters.items():
        name = f"{prefix}[{key}]"
        if isinstance(value, Mapping):
            pairs.extend(flatten_filters(value, name))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    pairs.extend(flatten_filters(item, f"{name}[{index}]"))
                else:
                    pairs.append((f"{name}[{index}]", _query_value(item)))
        else:
            pairs.append((name, _query_value(value)))
    return pairs


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the proxy sending us to its login page: report it, don't follow


class StrapiClient:
    """JSON requests to one Strapi base URL (the ``/api`` root).

    Parameters
    ----------
    endpoint
        Base URL including the ``/api`` suffix, e.g. ``http://shadows-db:1337/api``.
    headers
        Source of the Authorization header (core's ``TokenProvider``), or ``None`` for no auth.
    trust_env
        Use proxy settings (``HTTP(S)_PROXY``, ``NO_PROXY``) and ``REQUESTS_CA_BUNDLE`` /
        ``SSL_CERT_FILE`` from the environment.
    timeout
        Seconds for each socket operation of a request.
    retries
        Extra attempts for idempotent requests after a 5xx answer or a connection error.
    backoff
        Seconds before the first retry; doubled for each further one.
    """

    def __init__(
        self,
        endpoint: str,
        headers: HeaderSource | None = None,
        *,
        trust_env: bool = True,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                f"Strapi endpoint {endpoint!r} is not an http(s) URL: set [strapi] endpoint, "
                "e.g. http://shadows-db:1337/api"
            )
        self.endpoint = endpoint.rstrip("/")
        self._headers = headers
        self.trust_env = trust_env
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if not trust_env:
            handlers.append(urllib.request.ProxyHandler({}))
        context = self._ssl_context(trust_env)
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        auth = "bearer" if self._headers is not None else "none"
        return f"StrapiClient({self.endpoint!r}, auth={auth}, timeout={self.timeout})"

    @staticmethod
    def _ssl_context(trust_env: bool) -> ssl.SSLContext | None:
        if not trust_env:
            return None
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        return ssl.create_default_context(cafile=bundle) if bundle else None

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        """Return the full URL of ``path`` (relative to the endpoint) with an encoded query."""
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.strip("/").split("/"))
        url = f"{self.endpoint}/{quoted}"
        return f"{url}?{urllib.parse.urlencode(list(query))}" if query else url

    def request(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer (``None`` for an empty body).

        Raises
        ------
        ~braingeneers.core.errors.AuthError
            401, 403, or a redirect (to a login page): the token is missing, expired or refused.
        ~braingeneers.core.errors.NotFoundError
            404.
        ~braingeneers.core.errors.StorageError
            Any other error status, an unreachable or hanging server, or an answer that is not JSON.
        """
        url = self.url(path, query)
        attempts = 1 + (self.retries if method in _IDEMPOTENT else 0)
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, url, body)
            except _RetryableError as exc:
                if attempt == attempts:
                    raise StorageError(str(exc)) from None
                _log.warning("%s; retrying in %.1f s (attempt %d of %d)", exc, delay, attempt + 1, attempts)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, url: str, body: Any) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self._headers is not None:
            headers.update(self._headers.headers())
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        where = f"{method} {url}"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                text = exc.read()
            except OSError:
                text = b""
            location = exc.headers.get("Location", "") if exc.headers else ""
            self._raise_for(status, where, text, location)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _RetryableError(f"{where} failed: {reason}") from None
        if not 200 <= status < 300:
            self._raise_for(status, where, text, "")
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise StorageError(
                f"{where} answered HTTP {status} with a body that is not JSON: {_snippet(text)}"
            ) from None

    @staticmethod
    def _raise_for(status: int, where: str, text: bytes, location: str) -> None:
        if status in (401, 403):
            raise AuthError(
                f"{where} was refused (HTTP {status}): the service-account token is missing, expired or "
                f"not allowed; run 'braingeneers auth login' or check [strapi] in the credentials file. "
                f"Server said: {_snippet(text)}"
            )
        if 300 <= status < 400:
            raise AuthError(
                f"{where} redirected (HTTP {status}) to {location or 'another page'}, which is the proxy's "
                "login page: the request carried no valid token; run 'braingeneers auth login'"
            )
        if status == 404:
            raise NotFoundError(f"{where}: not found (HTTP 404). Server said: {_snippet(text)}")
        if status >= 500:
            raise _RetryableError(f"{where} answered HTTP {status}: {_snippet(text)}")
        raise StorageError(f"{where} answered HTTP {status}: {_snippet(text)}")

    # --- Strapi conventions -------------------------------------------------------------------

    def pages(
        self, collection: str, query: Sequence[tuple[str, str]] = (), page_size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Yield every entry of ``collection`` matching ``query``, page after page (past the 100-row cap)."""
        page = 1
        while True:
            paged = [
                *query,
                ("sort[0]", "id:asc"),
                ("pagination[page]", str(page)),
                ("pagination[pageSize]", str(page_size)),
            ]
            answer = self.request("GET", collection, paged)
            entries = _data(answer, f"GET {collection}")
            if not isinstance(entries, list):
                raise StorageError(
                    f"GET {self.url(collection)} answered {type(entries).__name__}, not a list"
                )
            yield from entries
            meta = answer.get("meta", {}).get("pagination", {}) if isinstance(answer, dict) else {}
            page_count = int(meta.get("pageCount", page))
            if page >= page_count or not entries:
                return
            page += 1


class _RetryableError(Exception):
    """A failure worth retrying on an idempotent request (5xx, connection error, timeout)."""


def _snippet(text: bytes, limit: int = 300) -> str:
    decoded = text.decode("utf-8", errors="replace").strip()
    return decoded if len(decoded) <= limit else decoded[:limit] + "..."


def _data(answer: Any, where: str) -> Any:
    if not isinstance(answer, dict) or "data" not in answer:
        raise StorageError(f"{where} answered without a 'data' field: {str(answer)[:300]}")
    return answer["data"]
