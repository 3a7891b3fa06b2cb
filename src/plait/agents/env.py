"""The environment an agent process runs in (S4 in bench/README.md).

plait is often started from inside an agent session, so the environment it inherits can
carry variables that make a nested agent CLI believe it is a sub-agent, or point git at
another repository. Those are removed; so is plait's forge token unless the project says
agents may have it. Task identity variables are added so hooks and scripts the agent runs
can tell which task they serve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plait.agents.base import TurnSpec

# Variables a parent agent session sets for its own children. A nested CLI that sees them
# changes behaviour (refuses to start, reports to the parent's IDE port, sandboxes itself).
NESTED_AGENT_VARS: tuple[str, ...] = (
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SSE_PORT",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_AGENT_SDK_VERSION",
    "CODEX_SANDBOX",
    "CODEX_SANDBOX_NETWORK_DISABLED",
    "CODEX_THREAD_ID",
    "OPENCODE",
    "OPENCODE_SESSION_ID",
    "GEMINI_CLI",
    "PI_CODING_AGENT",
)

# git location variables: set by a hook or a parent git command, they would point the
# agent's git at another repository instead of its worktree (its cwd).
GIT_LOCATION_VARS: tuple[str, ...] = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
)

# Tokens that let their holder push to the forge. Agents commit; plait pushes.
FORGE_TOKEN_VARS: tuple[str, ...] = (
    "PLAIT_FORGE_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    # gh and GitHub's tools read these for GitHub Enterprise hosts.
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
)


def clean_env(
    base: Mapping[str, str],
    spec: TurnSpec,
    *,
    remove: Iterable[str] = (),
    pass_forge_token: bool = False,
) -> dict[str, str]:
    """A copy of `base` fit for an agent: nested-agent, git-location and (unless
    `pass_forge_token`) forge-token variables removed, plus `remove`; task identity added.
    """
    drop = {*NESTED_AGENT_VARS, *GIT_LOCATION_VARS, *remove}
    if not pass_forge_token:
        drop.update(FORGE_TOKEN_VARS)
    env = {key: value for key, value in base.items() if key not in drop}
    env["PLAIT_TASK_ID"] = spec.task_id
    env["PLAIT_PROJECT"] = spec.project
    env["PLAIT_TURN_KIND"] = spec.kind
    return env
