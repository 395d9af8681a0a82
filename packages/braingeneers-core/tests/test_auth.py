"""Service-account tokens against a real local HTTP token service that mints RS256 JWTs."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from braingeneers.core.auth import TokenProvider, parse_token
from braingeneers.core.errors import AuthError

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint(days: float, sub: str = "svc-test") -> str:
    exp = datetime.now(timezone.utc) + timedelta(days=days)
    return jwt.encode({"sub": sub, "exp": int(exp.timestamp())}, KEY, algorithm="RS256")


def token_json(days: float, expires_at_days: float | None = None) -> str:
    stamp_days = days if expires_at_days is None else expires_at_days
    stamp = (datetime.now(timezone.utc) + timedelta(days=stamp_days)).strftime("%Y-%m-%d %H:%M:%S UTC")
    return json.dumps({"access_token": mint(days), "expires_at": stamp})


class Service:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[str] = []
        self.issued: list[str] = []


@pytest.fixture
def service() -> Iterator[tuple[Service, str]]:
    state = Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.headers.get("Authorization", ""))
            if state.mode == "500":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"boom")
                return
            if state.mode == "302":
                self.send_response(302)
                self.send_header("Location", "/login")
                self.end_headers()
                return
            if state.mode == "slow":
                time.sleep(3)
            token = mint(90, sub="refreshed")
            state.issued.append(token)
            body = json.dumps({"access_token": token, "expires_at": "2099-01-01 00:00:00 UTC"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/generate_token"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("BRAINGENEERS_TOKEN_FILE", raising=False)
    return tmp_path / "config" / "braingeneers" / "service_account.json"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_refresh_follows_the_jwt_exp_not_expires_at(service: tuple[Service, str], token_file: Path) -> None:
    state, url = service
    _write(token_file, token_json(days=5, expires_at_days=300))  # JWT says 5 days left
    old = json.loads(token_file.read_text())["access_token"]
    provider = TokenProvider(url=url)
    assert provider.token() == state.issued[0]
    assert state.requests == [f"Bearer {old}"]  # the current token is presented as Bearer
    assert json.loads(token_file.read_text())["access_token"] == state.issued[0]
    assert parse_token(token_file.read_text()).remaining() > timedelta(days=80)


def test_no_refresh_while_the_jwt_has_time_left(service: tuple[Service, str], token_file: Path) -> None:
    state, url = service
    _write(token_file, token_json(days=60, expires_at_days=1))  # expires_at is stale, exp is not
    TokenProvider(url=url).token()
    assert state.requests == []


@pytest.mark.parametrize("mode", ["500", "302", "slow"])
def test_failed_refresh_keeps_a_valid_old_token(
    service: tuple[Service, str], token_file: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    state, url = service
    state.mode = mode
    _write(token_file, token_json(days=3))
    old = json.loads(token_file.read_text())["access_token"]
    provider = TokenProvider(url=url, timeout=1.0)
    with caplog.at_level(logging.WARNING):
        assert provider.token() == old
    assert "keeping the current token" in caplog.text
    assert old not in caplog.text
    assert json.loads(token_file.read_text())["access_token"] == old


def test_failed_refresh_of_an_expired_token_raises(service: tuple[Service, str], token_file: Path) -> None:
    state, url = service
    state.mode = "500"
    _write(token_file, token_json(days=-1))
    old = json.loads(token_file.read_text())["access_token"]
    with pytest.raises(AuthError, match=r"HTTP 500.*expired") as info:
        TokenProvider(url=url).token()
    assert old not in str(info.value)


def test_store_uses_0600_file_in_0700_dir_and_hides_the_token(
    token_file: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    provider = TokenProvider()
    token = parse_token(token_json(days=40))
    with caplog.at_level(logging.DEBUG):
        where = provider.store(token)
        logging.getLogger("test").info("stored %r via %r", token, provider)
    assert where == token_file
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert token.access_token not in repr(token) + str(token) + repr(provider) + caplog.text
    assert token.access_token not in capsys.readouterr().out
    assert provider.token() == token.access_token


def test_search_order_and_legacy_file_is_read_only(
    tmp_path: Path, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = tmp_path / "explicit.json"
    env_file = tmp_path / "env.json"
    monkeypatch.setenv("BRAINGENEERS_TOKEN_FILE", str(env_file))
    provider = TokenProvider(path=explicit)
    from braingeneers.core.auth import token_locations

    locations = token_locations(explicit)
    assert locations[:3] == [explicit, env_file, token_file]
    assert provider.write_location == explicit
    assert TokenProvider().write_location == env_file
    assert provider.load() is None
    _write(token_file, token_json(days=30))
    loaded = provider.load()
    assert loaded is not None
    assert loaded.source == token_file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"expires_at": "x"}', "no 'access_token'"),
        ('{"access_token": "abc.def"}', "is not a JWT"),
    ],
)
def test_malformed_tokens_are_auth_errors_naming_the_file(token_file: Path, text: str, message: str) -> None:
    _write(token_file, text)
    with pytest.raises(AuthError, match=rf"{token_file}.*{message}|{message}"):
        TokenProvider().token()


def test_concurrent_refresh_from_several_processes_asks_once(
    service: tuple[Service, str], token_file: Path
) -> None:
    state, url = service
    _write(token_file, token_json(days=2))
    code = (
        "from braingeneers.core.auth import TokenProvider; "
        f"print(TokenProvider(path={str(token_file)!r}, url={url!r}).token()[-12:])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(state.requests) == 1
    assert set(outputs) == {state.issued[0][-12:]}


def test_verify_token_checks_signature_audience_and_issuer() -> None:
    from jwt.algorithms import RSAAlgorithm

    from braingeneers.core.auth import verify_token

    public = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    public.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    jwks = json.dumps({"keys": [public]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    exp = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())

    def signed(key: Any, **claims: Any) -> str:
        body = {"sub": "svc", "aud": "braingeneers", "iss": "https://issuer.test/", "exp": exp, **claims}
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})

    try:
        claims = verify_token(signed(KEY), url, audience="braingeneers", issuer="https://issuer.test/")
        assert claims["sub"] == "svc"
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(AuthError, match="InvalidSignatureError"):
            verify_token(signed(other_key), url, audience="braingeneers", issuer="https://issuer.test/")
        with pytest.raises(AuthError, match="InvalidAudienceError"):
            verify_token(
                signed(KEY, aud="other"), url, audience="braingeneers", issuer="https://issuer.test/"
            )
        with pytest.raises(AuthError, match="InvalidIssuerError"):
            verify_token(
                signed(KEY, iss="https://evil/"), url, audience="braingeneers", issuer="https://issuer.test/"
            )
    finally:
        server.shutdown()
        server.server_close()
