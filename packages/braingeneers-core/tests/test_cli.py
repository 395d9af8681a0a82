"""The ``braingeneers`` console script installed by braingeneers-core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("braingeneers", path=str(Path(sys.executable).parent))
    assert exe is not None, "the braingeneers console script is not installed next to python"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_commands() -> None:
    proc = _run("--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: braingeneers" in proc.stdout
    assert "version" in proc.stdout


def test_version_command_lists_core() -> None:
    proc = _run("version")
    assert proc.returncode == 0, proc.stderr
    assert f"braingeneers-core {version('braingeneers-core')}" in proc.stdout.splitlines()


def test_no_command_prints_help_and_fails() -> None:
    proc = _run()
    assert proc.returncode == 2
    assert "usage: braingeneers" in proc.stdout


def test_auth_help_lists_actions() -> None:
    proc = _run("auth", "--help")
    assert proc.returncode == 0, proc.stderr
    for action in ("login", "status", "refresh", "logout"):
        assert action in proc.stdout


def test_auth_login_status_logout_never_print_the_token(tmp_path: Path) -> None:
    import json
    import os
    import stat
    from datetime import datetime, timedelta, timezone

    import jwt

    exp = datetime.now(timezone.utc) + timedelta(days=30)
    token = jwt.encode({"sub": "svc-cli", "exp": int(exp.timestamp())}, "k" * 32, algorithm="HS256")
    pasted = json.dumps({"access_token": token, "expires_at": "2099-01-01 00:00:00 UTC"}) + "\n\n"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "DISPLAY": ""}
    env.pop("BRAINGENEERS_TOKEN_FILE", None)
    exe = shutil.which("braingeneers", path=str(Path(sys.executable).parent))
    assert exe is not None

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    login = run("auth", "login", stdin=pasted)
    assert login.returncode == 0, login.stderr
    stored = tmp_path / "braingeneers" / "service_account.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    status = run("auth", "status")
    assert status.returncode == 0, status.stderr
    assert "subject: svc-cli" in status.stdout
    assert str(stored) in status.stdout
    bad = run("auth", "login", stdin='{"access_token": "nope"}\n\n')
    assert bad.returncode == 1
    assert "is not a JWT" in bad.stderr
    logout = run("auth", "logout")
    assert f"Removed {stored}" in logout.stdout
    assert not stored.exists()
    for proc in (login, status, bad, logout):
        assert token not in proc.stdout + proc.stderr
