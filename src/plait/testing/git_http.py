"""A git smart-HTTP server on 127.0.0.1 that wants a token, for tests of pushing.

    with GitHttpServer(root, token="s3cret") as server:
        url = server.url("acme", "app")      # http://127.0.0.1:PORT/acme/app.git
        ...                                  # git push url …
        server.requests                      # (method, path, Authorization) of each one

It serves the bare repositories under `root` (`<root>/<owner>/<name>.git`) through the real
`git http-backend` (as CGI), like GitHub serves git over HTTPS: a request without
`Authorization: Basic base64("x-access-token:<token>")` gets 401 and a Basic challenge,
which is what makes git ask its credential helpers.
"""

from __future__ import annotations

import base64
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from plait.testing.loopback import LoopbackHTTP
from plait.workspaces.git import git_env

USER = "x-access-token"


class GitHttpServer(LoopbackHTTP):
    def __init__(self, root: Path, *, token: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{USER}:{token}".encode()).decode()
        self.requests: list[tuple[str, str, str]] = []
        super().__init__(_handler(self))

    def url(self, owner: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{owner}/{name}.git"

    def backend(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        """The CGI response of `git http-backend` to one authorized request."""
        url = urlsplit(target)
        env = git_env(
            {
                "GIT_PROJECT_ROOT": str(self.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": method,
                "PATH_INFO": url.path,
                "QUERY_STRING": url.query,
                "CONTENT_TYPE": headers.get("content-type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": USER,  # an authenticated user may push (receive-pack)
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_CONTENT_ENCODING": headers.get("content-encoding", ""),
                "GIT_PROTOCOL": headers.get("git-protocol", ""),
            }
        )
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        return proc.stdout


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            body = self._body()
            authorization = self.headers.get("Authorization", "")
            server.requests.append((self.command, self.path, authorization))
            if authorization != server.expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send_cgi(server.backend(self.command, self.path, headers, body))

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send_cgi(self, output: bytes) -> None:
            head, body = _split_cgi(output)
            fields = [line.split(":", 1) for line in head.splitlines() if ":" in line]
            status = next((v.strip() for k, v in fields if k.lower() == "status"), "200 OK")
            self.send_response(int(status.split()[0]))
            for key, value in fields:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: tests read `server.requests`

    return Handler


def _split_cgi(output: bytes) -> tuple[str, bytes]:
    """A CGI response's header lines and its body (which may hold any bytes)."""
    ends = [(at, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (at := output.find(sep)) >= 0]
    at, length = min(ends, default=(len(output), 0))
    return output[:at].decode(errors="replace"), output[at + length :]


def make_bare(root: Path, owner: str, name: str, source: Path) -> Path:
    """A bare copy of the repository at `source` as `<root>/<owner>/<name>.git`."""
    path = root / owner / f"{name}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(source), str(path)],
        env=git_env(),
        check=True,
        capture_output=True,
    )
    return path
