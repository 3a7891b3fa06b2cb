"""What an agent process finds around it beyond its turn: who it is, where the project's
API is, its ports, and (in a start prompt) what the shared memory holds for it.

Every agent gets PLAIT_PROJECT, PLAIT_TASK_ID (from its backend), PLAIT_TASK_NAME, the
API socket as PLAIT_SOCKET and, for a child mission, PLAIT_PARENT_ID — so it can run the
`plait` CLI (whose folder is put on its PATH) to spawn and wait on missions of its own
and to read and write the memory. A task that asks for ports (or a project whose
plait.toml gives every task some) gets PLAIT_PORT_<SERVICE> for each, from the store's
port registry.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from plait.core import effects as fx
from plait.store import memory
from plait.store.ports import env_name, ports_for
from plait.store.sqlite import Store
from plait.workspaces.mainguard import agent_reflog_env
from plait.workspaces.pushguard import no_push_env

MEMORY_ENTRIES = 3  # memory entries a start prompt offers


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEnvironment:
    project: str
    socket: str = ""
    store: Store | None = None
    default_ports: tuple[str, ...] = ()  # services every task gets a port for
    cli_dir: str = os.path.dirname(sys.executable)  # where this plait's `plait` lives

    def env(self, effect: fx.RunAgent, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the task's identity, the API, the CLI's folder and its ports; a
        git that pushes nowhere and marks what it does to main in the reflog
        (`plait.workspaces.pushguard`, `plait.workspaces.mainguard`)."""
        launch = effect.launch or fx.Launch()
        env = no_push_env(base) | agent_reflog_env(effect.task)
        env["PLAIT_PROJECT"] = self.project
        env["PLAIT_TASK_NAME"] = launch.name or effect.task
        if self.socket:
            env["PLAIT_SOCKET"] = self.socket
        if launch.parent:
            env["PLAIT_PARENT_ID"] = launch.parent
        path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]
        if self.cli_dir and self.cli_dir not in path:
            env["PATH"] = os.pathsep.join([*path, self.cli_dir])
        services = (*self.default_ports, *launch.ports)
        if services and self.store is not None:
            for service, port in ports_for(self.store, effect.task, services).items():
                env[env_name(service)] = str(port)
        return env

    def memory_for(self, turn: fx.Turn) -> str:
        """The memory section of a start prompt: the entries that match the task best."""
        if turn.kind != "start" or self.store is None:
            return ""
        text = f"{turn.title}\n{turn.description}"
        return memory.render_for_prompt(memory.relevant(self.store, text, limit=MEMORY_ENTRIES))
