"""``braingeneers auth``: log in, show status, refresh and log out the service-account token."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import webbrowser

from braingeneers.core.auth import TokenProvider, parse_token

__all__ = ["configure"]

_log = logging.getLogger(__name__)


def _provider(args: argparse.Namespace) -> TokenProvider:
    return TokenProvider(path=args.token_file, url=args.url)


def _login(args: argparse.Namespace) -> int:
    provider = _provider(args)
    sys.stdout.write(f"Open {provider.url} in a browser, log in, and paste the JSON it shows here.\n")
    if os.environ.get("DISPLAY") or sys.platform == "darwin":
        webbrowser.open(provider.url)
    sys.stdout.write("Token JSON (end with an empty line or Ctrl-D):\n")
    lines: list[str] = []
    for line in sys.stdin:
        if not line.strip() and lines:
            break
        lines.append(line)
    token = parse_token("".join(lines), "the pasted text")
    where = provider.store(token)
    sys.stdout.write(f"Stored the token in {where}; it expires at {token.expires_at:%Y-%m-%d %H:%M UTC}.\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    token = _provider(args).load()
    if token is None:
        sys.stdout.write("No service-account token found: run 'braingeneers auth login'.\n")
        return 1
    import jwt

    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    who = claims.get("sub") or claims.get("email") or claims.get("azp") or "unknown"
    days = token.remaining().total_seconds() / 86400
    sys.stdout.write(
        f"subject: {who}\nexpires: {token.expires_at:%Y-%m-%d %H:%M UTC} ({days:.1f} days left)\n"
        f"stored in: {token.source}\n"
    )
    return 0 if days > 0 else 1


def _refresh(args: argparse.Namespace) -> int:
    token = _provider(args).refresh(force=args.force)
    sys.stdout.write(f"Token valid until {token.expires_at:%Y-%m-%d %H:%M UTC} ({token.source}).\n")
    return 0


def _logout(args: argparse.Namespace) -> int:
    removed = _provider(args).logout()
    sys.stdout.write("".join(f"Removed {path}\n" for path in removed) or "No stored token to remove.\n")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Manage the service-account token used by the lab's web services."""
    parser.add_argument(
        "--token-file", default=None, help="token file (default: the search order in the docs)"
    )
    parser.add_argument(
        "--url", default=None, help="token service URL (default: BRAINGENEERS_TOKEN_URL or the lab's)"
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    login = actions.add_parser("login", help="store a token pasted from the service-accounts page")
    login.set_defaults(handler=_login)
    status = actions.add_parser(
        "status", help="who the token is for, when it expires, where it is (never the token)"
    )
    status.set_defaults(handler=_status)
    refresh = actions.add_parser("refresh", help="refresh the token if it is close to expiry")
    refresh.add_argument("--force", action="store_true", help="refresh even when plenty of time is left")
    refresh.set_defaults(handler=_refresh)
    logout = actions.add_parser("logout", help="delete the stored token")
    logout.set_defaults(handler=_logout)

    def _usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_usage)
