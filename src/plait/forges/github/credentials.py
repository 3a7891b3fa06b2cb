"""Giving the forge token to one `git push`, and to nothing else.

git asks its credential helpers for a password when the forge answers 401. For each push,
plait names its own helper on git's command line, after an empty `credential.helper` that
drops every helper configured anywhere (an agent can add one to the repository's config),
and only for the remote's own protocol, host and port: a remote an agent pointed elsewhere
gets no token. The helper reads the token from a pipe git inherits (`pass_fds`), so the
token is never in an environment (hooks and every program git starts would see it), in argv
(`ps` shows it) or in a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from plait.errors import ForgeError
from plait.forges.github.token import Token

USERNAME = "x-access-token"  # what GitHub expects beside an app or personal token
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class PushAuth:
    """git's global options (before the subcommand) and the descriptors it inherits."""

    options: tuple[str, ...] = ()
    fds: tuple[int, ...] = ()


@contextlib.contextmanager
def push_credentials(remote_url: str, token: Token) -> Iterator[PushAuth]:
    """The options that let one git command authenticate to `remote_url` with `token`
    (none for an ssh or local remote, which authenticate otherwise)."""
    parts = urlsplit(remote_url)
    if not _takes_token(parts):
        yield PushAuth()
        return
    secret = token.reveal()
    if any(c in secret for c in "\n\r\0"):
        raise ForgeError("the GitHub token holds a line break", hint="set it again, on one line")
    read, write = os.pipe()
    try:
        # A few dozen bytes: the pipe holds them until git's helper reads them.
        os.write(write, f"username={USERNAME}\npassword={secret}\n".encode())
        os.close(write)
        write = -1
        # /dev/fd/N, not <&N: sh (dash) reads only one-digit descriptors after <&.
        helper = f'!f() {{ test "$1" = get || exit 0; cat >/dev/null; cat /dev/fd/{read}; }}; f'
        yield PushAuth(
            options=(
                "-c",
                "credential.helper=",
                "-c",
                f"credential.{_scope(parts)}.helper={helper}",
            ),
            fds=(read,),
        )
    finally:
        os.close(read)
        if write != -1:
            os.close(write)


def _takes_token(parts: SplitResult) -> bool:
    """https, or plain http that never leaves this machine (a local double or proxy)."""
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _scope(parts: SplitResult) -> str:
    """`scheme://host[:port]`, the URL git matches `credential.<url>.*` against."""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
