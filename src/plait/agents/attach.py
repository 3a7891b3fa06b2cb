"""The command that resumes an agent's session interactively (`plait attach`).

Each CLI resumes a session in its own interactive way; plait runs it in the task's
workspace with the same environment (config folders, provider) as the task's turns, so
the person continues exactly the conversation the agent had.
"""

from __future__ import annotations

from plait.agents.base import AgentBackend
from plait.errors import AgentError

_RESUME: dict[str, tuple[str, ...]] = {
    "claude": ("--resume",),
    "codex": ("resume",),
    "opencode": ("--session",),
    "gemini": ("--resume",),
    "pi": ("--session",),
}


def interactive_argv(backend: AgentBackend, session_id: str, *, task: str) -> list[str]:
    name = backend.name
    if name == "script":
        python = str(getattr(backend, "python", "python3"))
        return [python, "-P", "-m", "plait.agents.scripted", "--interactive", "--task", task,
                "--resume", session_id]  # fmt: skip
    flags = _RESUME.get(name)
    if flags is None:
        raise AgentError(
            f"agent {name!r} has no interactive session to attach to",
            hint=f"attach works with {', '.join(sorted(_RESUME))} (and the script agent)",
        )
    program = str(getattr(backend, "program", name))
    return [program, *flags, session_id]
