"""A project's settings: what its flags said (kept in the store), what the repository's
`plait.toml` says, and the defaults — merged into what the shells and the core use.

A flag given on the command line wins over plait.toml, which wins over the defaults, even
when the flag says what the default says (`--main main` over `main = "trunk"`): the
settings keep which of them flags gave (`given`). Settings stored before `given` was kept
(and ones made in code without it) count a value that differs from its default as given.
The merge runs every time an engine starts, so an edited plait.toml applies at the next
`plait up`/`resume` (the core hears of new caps and delays through a ConfigChanged event).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from plait.core.model import Budget, RunConfig
from plait.core.notices import ALL_KINDS, KINDS
from plait.errors import PlaitError, PlanError, PlanProblem, UsageError
from plait.notify import Channels
from plait.plans.config import CONFIG_FILE, EMPTY, ProjectConfig, parse_config
from plait.plans.executor import LOCAL, ExecutorConfig, executor_from_flag
from plait.plans.issues_config import IssuesConfig
from plait.plans.risk import RiskConfig
from plait.plans.swarm_config import SwarmConfig

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    repo: str
    forge: str = "local"
    agent: str = "script"
    script: str | None = None  # the script backend's script file
    ci_command: list[str] = field(default_factory=list)
    main_branch: str = "main"
    plan: str = ""
    hook: str | None = None
    poll_interval: float = 0.5
    idle_timeout: float = 600.0
    turn_timeout: float = 3600.0
    demo_reviews: dict[str, list[str]] = field(default_factory=dict)
    # Options for the project's agent backend (model, executable, base_url…). Never put
    # secrets here: they are stored in the project database; agents read keys from the env.
    agent_options: dict[str, Scalar] = field(default_factory=dict)
    # GitHub forge: API root (GitHub Enterprise, a double), the remote, "owner/name".
    github_api_url: str | None = None
    remote: str = "origin"
    slug: str | None = None
    # Run settings given as flags (None: not given, plait.toml or the default decides).
    max_concurrency: int | None = None
    merge_delay: float | None = None
    cooldown: float | None = None
    keep_worktrees: bool | None = None
    # Notifications (None: plait.toml's [notify] or the default decides). The webhook is
    # kept here as given: write a URL that carries a secret as env:NAME.
    notify_on: list[str] | None = None
    notify_desktop: bool | None = None
    notify_webhook: str | None = None
    notify_format: str | None = None
    # Budgets: the project's and each task's, in tokens and dollars.
    budget_tokens: int | None = None
    budget_dollars: float | None = None
    task_budget_tokens: int | None = None
    task_budget_dollars: float | None = None
    # `plait swarm CONFIG.toml`: its [swarm] and [review] tables win over plait.toml's.
    swarm_file: str | None = None
    # Where agent turns run, as --executor said ("": plait.toml's [executor], else local).
    executor: str = ""
    # Which of RESOLVED_BY_FLAG the command line gave (None: not recorded, a value that
    # differs from its default counts as given).
    given: tuple[str, ...] | None = None

    def was_given(self, name: str) -> bool:
        """Whether a flag gave this setting (so it wins over plait.toml)."""
        if self.given is not None:
            return name in self.given
        value = getattr(self, name)
        if name == "poll_interval" and self.forge == "github" and value == GITHUB_POLL:
            return False  # the github forge's own default, stored as if given
        return bool(value != getattr(_DEFAULTS, name))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Settings:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(Settings)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("given") is not None:
            values["given"] = tuple(values["given"])
        return Settings(**values)


_DEFAULTS = Settings(repo="")
GITHUB_POLL = 30.0  # the github forge polls less often by default
# Settings a flag, plait.toml and a default each may say: the flag wins, then plait.toml.
RESOLVED_BY_FLAG = ("main_branch", "poll_interval", "idle_timeout", "turn_timeout")


@dataclass(frozen=True, slots=True, kw_only=True)
class Effective:
    settings: Settings  # for the shells (CI command, hook, timeouts, agent options)
    config: RunConfig  # for the core
    backends: dict[str, dict[str, Scalar]]  # options of each backend, by name
    prompts_dir: str | None  # the repository's prompt overrides, if plait.toml names them
    ports: tuple[str, ...] = ()  # services every task gets a port for
    container_image: str | None = None  # agents run inside this image ([container])
    container_engine: str | None = None
    notify: Channels = field(default_factory=Channels)  # where notifications go
    conflicts_warn: bool = True  # run the early conflict warning
    swarm: SwarmConfig | None = None  # [swarm]: tickets folder, planners' goal and room
    executor: ExecutorConfig = LOCAL  # where agent turns run
    issues: IssuesConfig | None = None  # [issues]: a repository's labelled issues become tasks
    risk: RiskConfig | None = None  # [risk]: PR risk tiers


def repo_config(repo: str) -> ProjectConfig:
    """The repository's plait.toml (none: every value unset). Errors carry file:line."""
    path = Path(repo) / CONFIG_FILE
    if not repo or not path.is_file():
        return EMPTY
    return read_config_file(path)


def project_config(s: Settings) -> ProjectConfig:
    """plait.toml, with the [swarm], [review] and [merge] sync of `plait swarm`'s file over
    it when the project runs one."""
    config = repo_config(s.repo)
    if not s.swarm_file:
        return config
    swarm = read_config_file(Path(s.swarm_file))
    return replace(
        config,
        swarm=swarm.swarm or config.swarm,
        review=swarm.review or config.review,
        sync=swarm.sync or config.sync,
        backends={**config.backends, **swarm.backends},
    )


def read_config_file(path: Path) -> ProjectConfig:
    """A plait.toml-shaped file (a swarm's CONFIG.toml); errors carry file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = PlanProblem(
            str(path), 0, f"cannot read it: {exc.strerror or exc}", "check the path"
        )
        raise PlanError([problem]) from None
    except UnicodeDecodeError:
        raise PlanError([PlanProblem(str(path), 0, "not UTF-8 text", "save it as UTF-8")]) from None
    config = parse_config(text, str(path))
    check_agents(config, text, str(path))
    return config


def check_hook(config: ProjectConfig, text: str, path: str) -> None:
    """[worktree] hook names a script that is there and runs: else every task fails its
    workspace attempts one after the other (file:line)."""
    from plait.workspaces.hook import hook_problem

    if not config.hook:
        return
    folder = os.path.dirname(os.path.abspath(path))
    problem = hook_problem(os.path.join(folder, config.hook))  # an absolute hook wins
    if not problem:
        return
    line = next((i for i, raw in enumerate(text.splitlines(), 1) if _is_hook_line(raw)), 0)
    fix = f"create it (relative to this file's folder) and `chmod +x {config.hook}`"
    said = f"[worktree] hook {config.hook} {problem}"
    raise PlanError([PlanProblem(path, line, said, f"{fix}, or remove the hook setting")])


def _is_hook_line(raw: str) -> bool:
    return _is_key_line(raw, "hook")


def _is_key_line(raw: str, key: str) -> bool:
    """The line sets `key` (as `key = …`, or dotted under its table)."""
    said = raw.strip().partition("=")[0].strip()
    return said == key or said.endswith(f".{key}")


def check_start_hook(s: Settings) -> None:
    """Before an engine starts: the worktree hook plait.toml names is there (a project's
    own hook setting, which wins as in `effective`, is no file's to point at)."""
    path = Path(s.repo) / CONFIG_FILE
    if not s.hook and s.repo and path.is_file():
        check_hook(read_config_file(path), path.read_text(encoding="utf-8"), str(path))


def check_start(s: Settings) -> None:
    """Before an engine starts: what plait.toml names that would fail every task one by
    one is there (the worktree hook, the main branch), said with file:line."""
    check_start_hook(s)
    check_start_main(s)


def check_start_main(s: Settings) -> None:
    """Before an engine starts: the main branch plait.toml names (and no --main overrides)
    is a branch of the repository, else every task fails its workspace attempts. A --main
    flag is checked where it is given."""
    path = Path(s.repo) / CONFIG_FILE
    if not s.repo or not path.is_file():
        return
    config = read_config_file(path)
    if not config.main or _pick(s, "main_branch", config.main) != config.main:
        return
    from plait.workspaces.repo import has_branch

    if has_branch(s.repo, config.main, forge=s.forge, remote=s.remote):
        return
    text = path.read_text(encoding="utf-8")
    line = next((i for i, raw in enumerate(text.splitlines(), 1) if _is_key_line(raw, "main")), 0)
    said = f"[project] main {config.main!r} is not a branch of {s.repo}"
    fix = f"create it (`git branch {config.main}`), or name the branch work lands on"
    raise PlanError([PlanProblem(str(path), line, said, fix)])


def check_agents(config: ProjectConfig, text: str, path: str) -> None:
    """The agents plait.toml names exist, and their options are theirs (file:line)."""
    from plait.agents.registry import BACKENDS, backend_options, unknown_backend

    problems: list[PlanProblem] = []
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        return next((i for i, raw in enumerate(lines, 1) if needle in raw), 0)

    def backend(name: str, where: str) -> bool:
        if name in BACKENDS:
            return True
        said = unknown_backend(name)
        problems.append(PlanProblem(path, line_of(where), f"unknown agent {name!r}",
                                    said.hint))  # fmt: skip
        return False

    named = [(n, o, f"[agents.{n}]") for n, o in config.backends.items()]
    swarm = config.swarm
    for group in (*swarm.workers, *swarm.planners) if swarm else ():
        if group.agent:
            backend(group.agent, f'"{group.agent}"')
    for reviewer in config.review.reviewers if config.review else ():
        backend(reviewer.agent, f'"{reviewer.agent}"')
    for reviewer in config.risk.rules().second if config.risk else ():
        backend(reviewer.agent, "double_check_reviewer")
    if config.agent and backend(config.agent, "default"):
        named.append((config.agent, config.agent_options, "options"))
    for task_class in config.classes.values():
        if task_class.agent:
            backend(task_class.agent, f'"{task_class.agent}"')
    for capped in config.agent_caps:  # [limits.agents]: a cap on no agent caps nothing
        if capped not in BACKENDS:
            key_line = next((i for i, raw in enumerate(lines, 1) if _is_key_line(raw, capped)), 0)
            problems.append(PlanProblem(path, key_line or line_of(capped),
                                        f"unknown agent {capped!r}",
                                        unknown_backend(capped).hint))  # fmt: skip
    for name, options, where in named:
        if not backend(name, where):
            continue
        known = backend_options(name)
        for key, value in options.items():
            spec = known.get(key)
            if spec is None:
                valid = ", ".join(known) or "none"
                problems.append(PlanProblem(path, line_of(key), f"agent {name!r} has no option "
                                            f"{key!r}", f"its options: {valid}"))  # fmt: skip
                continue
            try:
                check_secret(key, value)
                spec.parse(value, backend=name)
            except PlaitError as exc:
                problems.append(PlanProblem(path, line_of(key), exc.message, exc.hint))
    if problems:
        raise PlanError(problems)


def _file_paths(agent: str, options: Mapping[str, Scalar], repo: str) -> dict[str, Scalar]:
    """plait.toml's options of `agent`, a relative path among them made the file's folder's
    (the repository's), as the worktree hook's is: not the folder an engine started in."""
    from plait.agents.options import PATH
    from plait.agents.registry import BACKENDS, backend_options

    out = dict(options)
    specs = backend_options(agent) if agent in BACKENDS else {}
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None or spec.kind is not PATH or not isinstance(value, str) or not repo:
            continue
        if value.strip() and not os.path.isabs(os.path.expanduser(value)):
            out[key] = str(Path(repo) / value)
    return out


def file_options(agent: str, cfg: ProjectConfig, repo: str) -> dict[str, Scalar]:
    """The options plait.toml gives the agent a project runs: its `[agents.NAME]` table,
    then `[agent] options`, paths made the repository's."""
    own = _file_paths(agent, cfg.backends.get(agent, {}), repo)
    return {**own, **_file_paths(agent, cfg.agent_options, repo)}


def configured_script(repo: str) -> bool:
    """plait.toml gives the script agent its script (`[agent] options` or `[agents.script]`)."""
    cfg = repo_config(repo) if repo else EMPTY
    return "script" in cfg.agent_options or "script" in cfg.backends.get("script", {})


def _pick(s: Settings, name: str, configured: Any) -> Any:
    """The flag when it was given (even if it says what the default says), else
    plait.toml, else the default."""
    if s.was_given(name) or configured is None:
        return getattr(s, name)
    return configured


def effective(name: str, s: Settings, cfg: ProjectConfig) -> Effective:
    ci = s.ci_command or (shlex.split(cfg.ci_command) if cfg.ci_command else [])
    settings = replace(
        s,
        ci_command=ci,
        hook=s.hook or cfg.hook,
        main_branch=_pick(s, "main_branch", cfg.main),
        poll_interval=_pick(s, "poll_interval", cfg.poll_interval),
        idle_timeout=_pick(s, "idle_timeout", cfg.idle_timeout),
        turn_timeout=_pick(s, "turn_timeout", cfg.turn_timeout),
    )
    backends = {n: _file_paths(n, o, s.repo) for n, o in cfg.backends.items()}
    default_options = file_options(s.agent, cfg, s.repo)
    if cfg.model and "model" not in s.agent_options:
        default_options["model"] = cfg.model
    backends[s.agent] = {**default_options, **s.agent_options}
    if s.script:  # --script is a flag, and a flag wins over plait.toml's script option
        backends["script"] = {**backends.get("script", {}), "script": s.script}
    base = RunConfig(project=name, repo=s.repo)
    config = replace(
        base,
        main_branch=settings.main_branch,
        forge=s.forge,
        agent=s.agent,
        max_concurrency=s.max_concurrency or cfg.max_concurrency or base.max_concurrency,
        class_caps={**(cfg.issues.lane_caps() if cfg.issues else {}), **cfg.class_caps},
        agent_caps=dict(cfg.agent_caps),
        class_agents={n: c.agent for n, c in cfg.classes.items() if c.agent},
        class_models={n: c.model for n, c in cfg.classes.items() if c.model},
        ci_failure_cap=cfg.ci_failure_cap or base.ci_failure_cap,
        failure_cap=cfg.failure_cap or base.failure_cap,
        hold_for_dependents=_first(cfg.hold_for_dependents, base.hold_for_dependents),
        cooldown_seconds=_given(s.cooldown, cfg.cooldown) or base.cooldown_seconds,
        merge_delay=_first(s.merge_delay, cfg.merge_delay, base.merge_delay),
        keep_worktrees=_first(s.keep_worktrees, cfg.keep_worktrees, base.keep_worktrees),
        stacked=_first(None, cfg.stacked, base.stacked),
        branch_prefix=cfg.branch_prefix or base.branch_prefix,
        sync=cfg.sync or base.sync,
        review=cfg.review or base.review,
        workers=(*cfg.swarm.workers, *cfg.swarm.planners) if cfg.swarm else (),
        tickets_dir=cfg.swarm.tickets if cfg.swarm else base.tickets_dir,
        risk_rules=cfg.risk.rules() if cfg.risk else None,
        class_paths=cfg.class_paths,
    )
    channels = notify_channels(s, cfg)
    config = replace(
        config,
        budget=Budget(
            tokens=_given(s.budget_tokens, cfg.budget_tokens),
            dollars=_given(s.budget_dollars, cfg.budget_dollars),
        ),
        task_budget=Budget(
            tokens=_given(s.task_budget_tokens, cfg.task_budget_tokens),
            dollars=_given(s.task_budget_dollars, cfg.task_budget_dollars),
        ),
        notify_on=tuple(k for k in channels.on if k in KINDS),
        hold_overlapping=_first(cfg.hold_overlapping, False),
        # As many worktrees made ahead as there are slots: turns that end together (the
        # common case at the start of a run) each find their successor's worktree ready.
        prepare_ahead=config.max_concurrency,
    )
    prompts = str(Path(s.repo) / cfg.prompts_dir) if cfg.prompts_dir else None
    executor = cfg.executor or LOCAL
    if s.executor:
        executor = executor_from_flag(s.executor, executor)
    return Effective(
        settings=settings,
        config=config,
        backends=backends,
        prompts_dir=prompts,
        ports=cfg.ports,
        container_image=cfg.container_image,
        container_engine=cfg.container_engine,
        notify=channels,
        conflicts_warn=_first(cfg.conflicts_warn, True),
        swarm=cfg.swarm,
        executor=executor,
        issues=cfg.issues,
        risk=cfg.risk,
    )


def notify_channels(s: Settings, cfg: ProjectConfig) -> Channels:
    """Notifications are on when plait.toml has a [notify] table or a flag asks for one;
    then every kind is told unless `on` names some."""
    flagged = s.notify_on is not None or s.notify_desktop or s.notify_webhook
    if not (cfg.notify or flagged):
        return Channels()
    on = s.notify_on if s.notify_on is not None else cfg.notify_on
    base = Channels()
    return Channels(
        on=tuple(ALL_KINDS if on is None else on),
        desktop=_first(s.notify_desktop, cfg.notify_desktop, base.desktop),
        bell=_first(cfg.notify_bell, base.bell),
        webhook=s.notify_webhook or cfg.notify_webhook or "",
        format=s.notify_format or cfg.notify_format or base.format,
        timeout=cfg.notify_timeout or base.timeout,
        retries=cfg.notify_retries or base.retries,
    )


def _given(*values: Any) -> Any:
    """The first value that is not None, or None."""
    return next((v for v in values if v is not None), None)


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


# Options that hold a secret: plait keeps only the name of the variable holding it.
SECRET_OPTIONS = frozenset({"api_key"})
ENV_PREFIX = "env:"


def check_secret(key: str, value: object) -> None:
    """A secret option must name an environment variable (`env:VAR`), never hold the key:
    settings are stored in the project's database."""
    if key in SECRET_OPTIONS and not (isinstance(value, str) and value.startswith(ENV_PREFIX)):
        raise UsageError(
            f"plait does not store keys: option {key} must name the variable that holds it",
            hint=f"export the key and pass {key}=env:VARIABLE (e.g. {key}=env:MY_PROVIDER_KEY)",
        )


def with_secrets(options: dict[str, Scalar], env: Mapping[str, str]) -> dict[str, Scalar]:
    """The options with each `env:VAR` secret replaced by the variable's value, for the
    backend in this process only."""
    out = dict(options)
    for key in SECRET_OPTIONS & set(out):
        value = out[key]
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            var = value[len(ENV_PREFIX) :]
            if var not in env:
                raise UsageError(
                    f"option {key} names ${var}, which is not set",
                    hint=f"export {var} in the environment the engine runs in",
                )
            out[key] = env[var]
    return out
