"""`plait doctor`: what is installed, what is missing, and how to fix it.

How this works. Each check returns a `Check` (ok / warn / fail, a detail and a fix). Only
what every run needs — Python, git >= 2.38 and a writable PLAIT_HOME — can fail;
agent CLIs, their logins and a GitHub token are warnings, since the demo (script agent,
local forge) needs none of them; the verdict says which agent `plait run` would pick.
Nothing here touches the network: a login is "present" when the variable or credentials
file the CLI reads exists, and secrets are never printed, only the name of where they
were found.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from plait.errors import GitError
from plait.store.paths import plait_home
from plait.workspaces.git import check_git_sync

OK, WARN, FAIL = "ok", "warn", "fail"
VERSION_TIMEOUT = 15.0
MIN_PYTHON = (3, 11)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class AgentCLI:
    name: str
    package: str  # npm package
    login: str  # what to run to log in
    env_keys: tuple[str, ...]  # variables that authenticate it on their own


AGENT_CLIS: tuple[AgentCLI, ...] = (
    AgentCLI(
        "claude",
        "@anthropic-ai/claude-code",
        "run `claude` and type /login (or `claude setup-token`), or set ANTHROPIC_API_KEY",
        ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"),
    ),
    AgentCLI(
        "codex",
        "@openai/codex",
        "run `codex login` (or `printenv OPENAI_API_KEY | codex login --with-api-key`)",
        ("OPENAI_API_KEY", "CODEX_API_KEY"),
    ),
    AgentCLI(
        "opencode",
        "opencode-ai",
        "run `opencode auth login`, or set a provider key such as ANTHROPIC_API_KEY",
        ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"),
    ),
    AgentCLI(
        "pi",
        "@mariozechner/pi-coding-agent",
        "run `pi` and type /login, or set a provider key such as ANTHROPIC_API_KEY",
        ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"),
    ),
    AgentCLI(
        "gemini",
        "@google/gemini-cli",
        "run `gemini` and choose Login with Google, or set GEMINI_API_KEY",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    ),
)


# ---- where things are --------------------------------------------------------------------
def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _dir(env: Mapping[str, str], var: str, default: Path) -> Path:
    value = env.get(var)
    return Path(value).expanduser() if value else default


def source_cli_install() -> Path | None:
    """The script that installs a source checkout's pinned agent CLIs, if plait runs from
    one."""
    install = Path(__file__).resolve().parents[2] / "tools" / "agent-clis" / "install"
    return install if install.is_file() else None


def source_cli_bin(env: Mapping[str, str]) -> Path | None:
    """The pinned agent CLIs of a source checkout (`tools/agent-clis/install`), if any."""
    root = Path(__file__).resolve().parents[2]
    if source_cli_install() is None:
        return None
    cache = _dir(env, "PLAIT_AGENT_CLIS_DIR", root / ".cache" / "agent-clis")
    return cache / "node_modules" / ".bin"


def credential_files(cli: str, env: Mapping[str, str]) -> list[Path]:
    """Files whose presence means the CLI has a stored login (checked, never read)."""
    home = _home(env)
    if cli == "claude":
        return [_dir(env, "CLAUDE_CONFIG_DIR", home / ".claude") / ".credentials.json"]
    if cli == "codex":
        return [_dir(env, "CODEX_HOME", home / ".codex") / "auth.json"]
    if cli == "opencode":
        data = _dir(env, "XDG_DATA_HOME", home / ".local" / "share")
        return [data / "opencode" / "auth.json"]
    if cli == "pi":
        agent = _dir(env, "PI_CODING_AGENT_DIR", home / ".pi" / "agent")
        return [agent / "auth.json", agent / "models.json"]
    if cli == "gemini":
        gemini = _dir(env, "GEMINI_CLI_HOME", home) / ".gemini"
        return [gemini / "oauth_creds.json"]
    return []


# ---- checks ------------------------------------------------------------------------------
def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    # Installs refuse older Pythons, but a source checkout can be run with any python.
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", FAIL, f"Python {version}", "install Python 3.11 or newer")
    return Check("python", OK, f"Python {version} ({sys.executable})")


def check_git() -> Check:
    try:
        version = check_git_sync()
    except GitError as exc:
        fix = "install git 2.38 or newer (e.g. `apt install git`, `brew install git`)"
        return Check("git", FAIL, exc.message, f"{fix}; {exc.hint}" if exc.hint else fix)
    return Check("git", OK, f"git {version}")


def _version(path: Path, env: Mapping[str, str]) -> tuple[str, str]:
    """(first line of `<cli> --version`, error) — stdin closed, bounded in time."""
    try:
        done = subprocess.run(
            [str(path), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=VERSION_TIMEOUT,
            env=dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "", f"`{path.name} --version` did not answer in {VERSION_TIMEOUT:.0f} s"
    except OSError as exc:
        return "", f"cannot run {path}: {exc.strerror or exc}"
    lines = (done.stdout or done.stderr).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if done.returncode != 0:
        return "", f"`{path.name} --version` exited {done.returncode}: {first[:200]}"
    return first[:200] or "(no version printed)", ""


def find_cli(name: str, env: Mapping[str, str]) -> tuple[Path | None, str]:
    """Where the CLI is and how it was found ("PATH" or "the project's agent-clis cache")."""
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found:
        return Path(found), "PATH"
    bin_dir = source_cli_bin(env)
    if bin_dir is not None:
        candidate = bin_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate, "the project's agent-clis cache"
    return None, ""


def check_cli(cli: AgentCLI, env: Mapping[str, str]) -> tuple[Check, bool]:
    """The CLI's check, and whether it is usable."""
    path, where = find_cli(cli.name, env)
    if path is None:
        fix = f"npm install -g {cli.package}  (needed only for --agent {cli.name})"
        install = source_cli_install()
        if install is not None:  # named whole: run from a user's repository, too
            fix += f"; or plait's pinned ones: `{install}`"
        return Check(cli.name, WARN, "not installed (not on PATH)", fix), False
    version, error = _version(path, env)
    if error:
        fix = f"reinstall it: npm install -g {cli.package} (Node.js >= 20 must be on PATH)"
        return Check(cli.name, WARN, f"found at {path} ({where}) but {error}", fix), False
    return Check(cli.name, OK, f"{version} at {path} ({where})"), True


def check_auth(cli: AgentCLI, env: Mapping[str, str]) -> Check:
    name = f"{cli.name} auth"
    keys = [k for k in cli.env_keys if env.get(k)]
    if keys:
        return Check(name, OK, f"{keys[0]} is set")
    files = [f for f in credential_files(cli.name, env) if f.is_file()]
    if files:
        return Check(name, OK, f"credentials in {files[0]}")
    if cli.name == "gemini" and _env_file_has(_home(env) / ".gemini" / ".env", cli.env_keys):
        return Check(name, OK, f"key in {_home(env) / '.gemini' / '.env'}")
    looked = ", ".join(str(f) for f in credential_files(cli.name, env))
    detail = f"not logged in (no {' / '.join(cli.env_keys)}; no {looked})"
    if sys.platform == "darwin" and cli.name == "claude":
        detail += "; on macOS the login may be in the Keychain, which is not checked"
    return Check(name, WARN, detail, cli.login)


def default_agent(env: Mapping[str, str]) -> str | None:
    """The first agent CLI (in the order of `AGENT_CLIS`) that is installed and logged in:
    what `plait run` uses when no --agent is given. Cheap: runs nothing."""
    for cli in AGENT_CLIS:
        path, _ = find_cli(cli.name, env)
        if path is not None and check_auth(cli, env).status == OK:
            return cli.name
    return None


def _env_file_has(path: Path, keys: Sequence[str]) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip().startswith(f"{k}=") for line in text.splitlines() for k in keys)


def check_github(env: Mapping[str, str]) -> Check:
    name = "github token"
    fix = "run `gh auth login`, or set GITHUB_TOKEN (needed only for the GitHub forge)"
    for var in ("GITHUB_TOKEN", "GH_TOKEN"):
        if env.get(var):
            return Check(name, OK, f"{var} is set")
    gh = shutil.which("gh", path=env.get("PATH", os.defpath))
    if gh is None:
        return Check(name, WARN, "no GITHUB_TOKEN / GH_TOKEN and gh is not installed", fix)
    try:
        done = subprocess.run(
            [gh, "auth", "token"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            env=dict(env),
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return Check(name, WARN, "`gh auth token` did not answer", fix)
    # The token itself is never kept or shown: only whether gh has one.
    if done.returncode == 0 and done.stdout.strip():
        return Check(name, OK, "`gh auth token` gives a token")
    return Check(name, WARN, "gh is installed but not logged in", fix)


def check_plait_home(env: Mapping[str, str]) -> Check:
    name = "PLAIT_HOME"
    home = plait_home()
    source = "PLAIT_HOME" if env.get("PLAIT_HOME") else "default"
    fix = f"make {home} writable, or set PLAIT_HOME to a writable directory"
    if home.exists() and not home.is_dir():
        return Check(name, FAIL, f"{home} ({source}) is not a directory", fix)
    if home.is_dir():
        try:
            with tempfile.TemporaryFile(dir=home):
                pass
        except OSError as exc:
            return Check(name, FAIL, f"{home} ({source}) is not writable: {exc.strerror}", fix)
        return Check(name, OK, f"{home} ({source}), writable")
    parent = home.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Check(name, OK, f"{home} ({source}), will be created on first run")
    return Check(name, FAIL, f"{home} ({source}) cannot be created under {parent}", fix)


def run_checks(env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in report order. `env` drives the agent and token checks; git and
    PLAIT_HOME are looked up the way a run would, in the process environment."""
    env = os.environ if env is None else env
    checks = [check_python(), check_git(), check_plait_home(env)]
    for cli in AGENT_CLIS:
        check, usable = check_cli(cli, env)
        checks.append(check)
        if usable:
            checks.append(check_auth(cli, env))
    checks.append(check_github(env))
    return checks


# ---- the command -------------------------------------------------------------------------
def render(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    ok = all(c.status != FAIL for c in checks)
    if getattr(args, "json", False):
        print(json.dumps({"checks": [asdict(c) for c in checks], "ok": ok}))
    else:
        print(render(checks))
        warns = sum(c.status == WARN for c in checks)
        fails = sum(c.status == FAIL for c in checks)
        print(
            f"\n{_verdict(ok)} ({fails} failed, {warns} warnings; warnings only matter for "
            "the agent backends or forges they name)"
        )
    return 0 if ok else 1


def _verdict(ok: bool) -> str:
    """Ready for what: with no agent CLI logged in, `plait run` without --agent refuses
    (exit 6), so a bare "ready" misled; the demo and the script agent need none."""
    if not ok:
        return "NOT ready: fix the failures above"
    agent = default_agent(os.environ)
    if agent is not None:
        return f"ready: `plait run` uses {agent} when no --agent is given"
    return (
        "ready for `plait demo` and the script agent only: `plait run` needs an agent CLI "
        "installed and logged in (see above), or --agent NAME"
    )
