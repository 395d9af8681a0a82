"""Fault cases of the shadows HTTP client against a stdlib fake: 500, 302 to login, 401, a hanging server."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from braingeneers.core.errors import AuthError, ConfigError, StorageError
from braingeneers.iot.shadows import Sample, Shadows, Thing
from braingeneers.iot.strapi import StrapiClient, env_flag, flatten_filters
from braingeneers.iot.testing import FakeStrapi

SECRET = "s3cr3t-token-value"


class StaticToken:
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET}"}

    def __repr__(self) -> str:
        return "StaticToken()"


@pytest.fixture
def fake() -> Iterator[FakeStrapi]:
    with FakeStrapi() as server:
        yield server


def client(fake: FakeStrapi, **kwargs: object) -> Shadows:
    options: dict[str, object] = {"token_provider": StaticToken(), "use_auth": True, "timeout": 2.0}
    options.update(kwargs)
    shadows = Shadows(fake.url, **options)  # type: ignore[arg-type]
    shadows.http.backoff = 0.01
    return shadows


def test_server_error_is_a_storage_error_with_the_body_after_retries(fake: FakeStrapi) -> None:
    fake.mode = "500"
    with pytest.raises(StorageError, match="HTTP 500: Internal Server Error: database is locked"):
        client(fake, retries=2).things()
    assert len(fake.requests) == 3


def test_post_is_not_retried(fake: FakeStrapi) -> None:
    fake.mode = "500"
    with pytest.raises(StorageError, match="HTTP 500"):
        client(fake, retries=3).create(Sample, {"name": "x"})
    assert [method for method, _, _ in fake.requests] == ["POST"]


def test_redirect_to_login_page_is_an_auth_error(fake: FakeStrapi) -> None:
    fake.mode = "302"
    with pytest.raises(AuthError, match="login page"):
        client(fake).get(Thing, 1)
    assert len(fake.requests) == 1  # not followed, not retried


def test_expired_token_401_is_an_auth_error(fake: FakeStrapi) -> None:
    fake.mode = "401"
    with pytest.raises(AuthError, match="HTTP 401"):
        client(fake).get_shadow("dev")


def test_hanging_server_times_out(fake: FakeStrapi) -> None:
    fake.mode = "hang"
    started = time.monotonic()
    with pytest.raises(StorageError, match="timed out"):
        client(fake, timeout=0.3, retries=1).get(Thing, 1)
    assert time.monotonic() - started < 5
    assert len(fake.requests) == 2


def test_unreachable_server_is_a_storage_error() -> None:
    from braingeneers.core.testing import free_port

    shadows = Shadows(f"http://127.0.0.1:{free_port()}/api", use_auth=False, timeout=1, retries=0)
    with pytest.raises(StorageError, match="failed"):
        shadows.things()


def test_bearer_header_sent_and_never_in_repr_or_logs(
    fake: FakeStrapi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.mode = "500"
    shadows = client(fake, retries=1)
    with pytest.raises(StorageError):
        shadows.things()
    assert fake.requests[0][2]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(shadows)
    assert SECRET not in repr(shadows.http)
    assert SECRET not in caplog.text
    assert "retrying" in caplog.text


def test_use_auth_off_sends_no_header(fake: FakeStrapi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAINGENEERS_HTTP_USE_AUTH", "off")
    assert client(fake, use_auth=None).things() == []
    assert "Authorization" not in fake.requests[0][2]


def test_query_values_are_encoded(fake: FakeStrapi) -> None:
    client(fake).find(Thing, "a&b#c+d%e f")
    path = fake.requests[0][1]
    assert "a%26b%23c%2Bd%25e+f" in path
    assert dict(parse_qsl(urlsplit(path).query))["filters[name][$eq]"] == "a&b#c+d%e f"


def test_flatten_filters_and_env_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    assert flatten_filters({"a": {"$in": [1, 2]}, "b": True}) == [
        ("filters[a][$in][0]", "1"),
        ("filters[a][$in][1]", "2"),
        ("filters[b]", "true"),
    ]
    monkeypatch.delenv("BRAINGENEERS_HTTP_TRUST_ENV", raising=False)
    monkeypatch.setenv("BRAINGENEERS_SHADOWS_TRUST_ENV", " No ")
    assert env_flag(None, ["BRAINGENEERS_HTTP_TRUST_ENV", "BRAINGENEERS_SHADOWS_TRUST_ENV"]) is False
    monkeypatch.setenv("BRAINGENEERS_HTTP_TRUST_ENV", "1")
    assert env_flag(None, ["BRAINGENEERS_HTTP_TRUST_ENV", "BRAINGENEERS_SHADOWS_TRUST_ENV"]) is True
    assert env_flag(False, ["BRAINGENEERS_HTTP_TRUST_ENV"]) is False


def test_endpoint_from_credentials_file(tmp_path: object, fake: FakeStrapi) -> None:
    from pathlib import Path

    creds = Path(str(tmp_path)) / "credentials"
    creds.write_text(f"[strapi]\nendpoint = {fake.url}/\napi_key = unused\n")
    shadows = Shadows(credentials=creds, use_auth=False)
    assert shadows.http.endpoint == fake.url
    with pytest.raises(ConfigError, match="not an http"):
        StrapiClient("shadows-db:1337/api")


def test_trust_env_decides_whether_proxy_variables_apply(
    fake: FakeStrapi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from braingeneers.core.testing import free_port

    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert client(fake, trust_env=False).things() == []
    with pytest.raises(StorageError, match="failed"):
        client(fake, trust_env=True, retries=0).things()
    monkeypatch.setenv("BRAINGENEERS_HTTP_TRUST_ENV", "false")
    assert client(fake).things() == []


def test_legacy_interactor_reads_a_credentials_stream(fake: FakeStrapi) -> None:
    import io

    from braingeneers.iot.shadows import DatabaseInteractor

    db = DatabaseInteractor(io.StringIO(f"[strapi]\nendpoint = {fake.url}\napi_key = old\n"), use_auth=False)
    assert db.shadows.http.endpoint == fake.url
    assert db.list_devices_by_type("Other") == []
    assert "Authorization" not in fake.requests[0][2]
    with pytest.raises(ConfigError, match="raw query filters"):
        db.list_objects_with_name_and_id("plates", "?filters[name]=x")
    with pytest.raises(ConfigError, match="unknown Strapi collection"):
        db.list_objects_with_name_and_id("robots")
