"""The credentials file: search order, typed sections, and errors that name file, section and key."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from braingeneers.core.config import CREDENTIALS_ENV, CredentialsFile, credentials_path
from braingeneers.core.errors import BraingeneersError, ConfigError

FULL = """
[default]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = s3-secret-value
endpoint_url = https://s3.example.org

[braingeneers-mqtt]
profile-id = rig-7
profile-key = mqtt-secret-value
endpoint = mqtt.example.org
port = 8883

[redis]
redis_password = redis-secret-value

[strapi]
endpoint = http://shadows-db:1337/api/
api_key = strapi-secret-value
"""


@pytest.fixture
def creds_file(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.write_text(FULL)
    return path


def test_search_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert credentials_path() == tmp_path / ".aws" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/aws/creds")
    assert credentials_path() == Path("/aws/creds")
    monkeypatch.setenv(CREDENTIALS_ENV, "/bg/creds")
    assert credentials_path() == Path("/bg/creds")
    assert credentials_path(tmp_path / "explicit") == tmp_path / "explicit"


def test_typed_sections(creds_file: Path) -> None:
    creds = CredentialsFile.load(creds_file)
    assert creds.sections == ["default", "braingeneers-mqtt", "redis", "strapi"]
    s3 = creds.s3_profile()
    assert (s3.access_key_id, s3.secret_access_key, s3.endpoint_url) == (
        "AKIDEXAMPLE",
        "s3-secret-value",
        "https://s3.example.org",
    )
    mqtt = creds.mqtt()
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.password) == (
        "mqtt.example.org",
        8883,
        "rig-7",
        "mqtt-secret-value",
    )
    redis = creds.redis()
    assert (redis.host, redis.port, redis.password, redis.tls) == (
        "redis.braingeneers.gi.ucsc.edu",
        6379,
        "redis-secret-value",
        False,
    )
    strapi = creds.strapi()
    assert (strapi.endpoint, strapi.api_key) == ("http://shadows-db:1337/api", "strapi-secret-value")


def test_secrets_never_in_repr(creds_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    creds = CredentialsFile.load(creds_file)
    caplog.set_level(logging.DEBUG)
    objects = [creds, creds.s3_profile(), creds.mqtt(), creds.redis(), creds.strapi(), creds.section("redis")]
    for obj in objects:
        logging.getLogger("test").info("loaded %r", obj)
    text = " ".join(repr(o) + str(o) for o in objects) + caplog.text
    for secret in ("s3-secret-value", "mqtt-secret-value", "redis-secret-value", "strapi-secret-value"):
        assert secret not in text
    assert "rig-7" in repr(creds.mqtt())


def test_missing_file_names_it_and_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"{tmp_path}/nope does not exist.*{CREDENTIALS_ENV}"):
        CredentialsFile.load(tmp_path / "nope")


def test_malformed_ini_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "credentials"
    bad.write_text("this is not = an ini file\n[unterminated\n")
    with pytest.raises(ConfigError, match=rf"{bad} is not a valid INI file"):
        CredentialsFile.load(bad)


def test_missing_section_lists_what_exists(creds_file: Path) -> None:
    creds = CredentialsFile.load(creds_file)
    with pytest.raises(ConfigError, match=r"has no section \[nosuch\] \(found: default, braingeneers-mqtt"):
        creds.section("nosuch")


def test_missing_and_malformed_keys_name_file_section_and_key(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[braingeneers-mqtt]\nprofile-id = rig\nendpoint = h\nport = 18x83\n[redis]\ntls = maybe\n"
    )
    creds = CredentialsFile.load(path)
    with pytest.raises(
        ConfigError, match=rf"{path}, section \[braingeneers-mqtt\], key 'port' must be an integer"
    ):
        creds.mqtt()
    path.write_text("[braingeneers-mqtt]\nprofile-id = rig\nendpoint = h\n")
    with pytest.raises(ConfigError, match=r"section \[braingeneers-mqtt\], key 'profile-key' is missing"):
        CredentialsFile.load(path).mqtt()
    path.write_text("[redis]\ntls = maybe\n")
    with pytest.raises(ConfigError, match=r"section \[redis\], key 'tls' must be true or false"):
        CredentialsFile.load(path).redis()


def test_config_error_is_catchable_as_the_base_and_as_valueerror(tmp_path: Path) -> None:
    with pytest.raises(BraingeneersError):
        CredentialsFile.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="does not exist"):
        CredentialsFile.load(tmp_path / "missing")


def test_validation_survives_python_optimize(tmp_path: Path) -> None:
    """Checks are real code, not asserts: ``python -O`` still reports the missing key."""
    path = tmp_path / "credentials"
    path.write_text("[braingeneers-mqtt]\nendpoint = h\n")
    code = (
        "from braingeneers.core.config import CredentialsFile\n"
        "from braingeneers.core.errors import ConfigError\n"
        f"try:\n    CredentialsFile.load({str(path)!r}).mqtt()\n"
        "except ConfigError as e:\n    print('ConfigError', e)\n"
    )
    proc = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("ConfigError"), proc.stdout + proc.stderr
    assert "profile-id" in proc.stdout
