"""plait.toml: parsed into typed settings, every problem located, merged under the flags."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.core.model import Budget
from plait.core.notices import ALL_KINDS, KINDS
from plait.engine.settings import Settings, effective
from plait.errors import PlanError, PlanProblem
from plait.plans.config import EMPTY, parse_config

FULL = """\
# the settings of this repository
[project]
main = "trunk"
branch_prefix = "bots"

[agent]
default = "claude"
model = "sonnet"
options = { max_turns = 50 }

[agents.codex]
model = "gpt-5.1-codex"

[classes.INFRA]
agent = "codex"
cap = 2

[classes.e2e]
exclusive = true
model = "opus"

[limits]
max_concurrency = 8
ci_failures = 5
[limits.agents]
claude = 3

[ci]
command = "make test"

[worktree]
hook = "scripts/setup.sh"
keep = true

[liveness]
idle_timeout = 300
cooldown = 45.5

[merge]
delay = 0
stacked = false
"""


def test_every_section_is_read() -> None:
    c = parse_config(FULL, "plait.toml")
    assert (c.main, c.branch_prefix, c.agent, c.model) == ("trunk", "bots", "claude", "sonnet")
    assert c.agent_options == {"max_turns": 50}
    assert c.backends == {"codex": {"model": "gpt-5.1-codex"}}
    assert c.class_caps == {"INFRA": 2, "e2e": 1}  # exclusive is a cap of one
    assert c.classes["INFRA"].agent == "codex"
    assert c.classes["e2e"].model == "opus"
    assert (c.max_concurrency, c.ci_failure_cap, c.agent_caps) == (8, 5, {"claude": 3})
    assert (c.ci_command, c.hook, c.keep_worktrees) == ("make test", "scripts/setup.sh", True)
    assert (c.idle_timeout, c.cooldown, c.merge_delay, c.stacked) == (300.0, 45.5, 0.0, False)


@pytest.mark.parametrize(
    ("text", "line", "says", "hint"),
    [
        ("[limits]\nmax_concurency = 3\n", 2, "unknown key 'max_concurency' in [limits]",
         "did you mean 'max_concurrency'?"),
        ("[agnet]\ndefault = 'x'\n", 1, "unknown key 'agnet' at the top level",
         "did you mean 'agent'?"),
        ("[liveness]\n\nidle_timeout = 0\n", 3, "idle_timeout = 0 is not a number of seconds",
         "write idle_timeout as"),
        ("[merge]\ndelay = -1\n", 2, "delay = -1 is not a number of seconds, 0 or more", ""),
        ("[limits]\nmax_concurrency = 'many'\n", 2, "is not a whole number", ""),
        ("[limits]\nmax_concurrency = true\n", 2, "is not a whole number", ""),
        ("[classes.INFRA]\ncapp = 1\n", 2, "unknown key 'capp' in [classes.INFRA]", "'cap'"),
        ("[ci]\ncommand = '  '\n", 2, "is not text", ""),
        ("[ci\ncommand = 'x'\n", 1, "not valid TOML", "fix the syntax"),
        ("limits = 3\n", 1, "limits must be a table", "[limits]"),
        ("[notify]\non = ['idel']\n", 2, "is not a list of: attention, ready", ""),
        ("[notify]\nwebhook = 'ftp://x'\n", 2, "is not an http(s) URL, or env:NAME", ""),
        ("[notify]\nformat = 'xml'\n", 2, "is not json or slack", ""),
        ("[budget]\ndollars = 0\n", 2, "is not an amount of dollars greater than 0", ""),
        ("[budget]\ntask_tokens = 1.5\n", 2, "is not a whole number", ""),
        ("[conflicts]\nhold = 'yes'\n", 2, "is not true or false", ""),
        ("[limits]\nhold_for_dependents = -5\n", 2,
         "hold_for_dependents = -5 is not a number of seconds, 0 or more",
         "write hold_for_dependents as a number of seconds, 0 or more"),
        ("[limits]\nhold_for_dependents = '1m'\n", 2, "is not a number of seconds", ""),
    ],
)  # fmt: skip
def test_problems_name_the_line_and_the_fix(text: str, line: int, says: str, hint: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_config(text, "plait.toml")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("plait.toml", line), problem
    assert says in problem.message
    assert hint in problem.hint


def test_the_hold_for_dependents_comes_from_plait_toml_and_0_turns_it_off() -> None:
    stored = Settings(repo="/r")
    assert effective("p", stored, parse_config("", "plait.toml")).config.hold_for_dependents == 60
    for text, seconds in (("15", 15.0), ("0", 0.0), ("2.5", 2.5)):
        config = parse_config(f"[limits]\nhold_for_dependents = {text}\n", "plait.toml")
        assert config.hold_for_dependents == seconds
        assert effective("p", stored, config).config.hold_for_dependents == seconds


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(PlanError) as caught:
        parse_config("[limits]\nmax = 1\n[ci]\nkommand = 'x'\n", "plait.toml")
    assert [p.line for p in caught.value.problems] == [2, 4]


def test_flags_win_over_the_file_which_wins_over_the_defaults() -> None:
    config = parse_config(FULL, "plait.toml")
    stored = Settings(repo="/r", agent="claude", max_concurrency=2, ci_command=["pytest"])
    eff = effective("p", stored, config)
    assert eff.config.max_concurrency == 2  # the flag
    assert eff.settings.ci_command == ["pytest"]  # the flag
    assert eff.settings.idle_timeout == 300.0  # the file (the stored one is the default)
    assert eff.config.cooldown_seconds == 45.5
    assert eff.config.class_caps == {"INFRA": 2, "e2e": 1}
    assert eff.config.class_agents == {"INFRA": "codex"}
    assert eff.config.main_branch == "trunk"
    assert eff.backends["claude"] == {"max_turns": 50, "model": "sonnet"}
    assert eff.backends["codex"] == {"model": "gpt-5.1-codex"}
    plain = effective("p", Settings(repo="/r"), EMPTY)
    assert plain.config.max_concurrency == 4
    assert plain.settings.ci_command == []


NOTIFY = """\
[notify]
on = ["attention", "finished"]
webhook = "env:HOOK"
format = "slack"
retries = 2

[budget]
dollars = 25
task_tokens = 200_000

[conflicts]
hold = true
"""


def test_notify_budget_and_conflicts_reach_the_core_and_the_shells() -> None:
    eff = effective("p", Settings(repo="/r"), parse_config(NOTIFY, "plait.toml"))
    assert eff.notify.on == ("attention", "finished")
    assert (eff.notify.webhook, eff.notify.format, eff.notify.retries) == ("env:HOOK", "slack", 2)
    assert eff.notify.bell
    assert not eff.notify.desktop
    assert eff.config.notify_on == ("attention",)  # "finished" is said by `plait run`
    assert eff.config.budget == Budget(dollars=25.0)
    assert eff.config.task_budget == Budget(tokens=200_000)
    assert eff.config.hold_overlapping
    assert eff.conflicts_warn
    flags = Settings(repo="/r", notify_on=["idle"], budget_dollars=50.0, task_budget_tokens=5)
    eff = effective("p", flags, parse_config(NOTIFY, "plait.toml"))
    assert eff.config.notify_on == ("idle",)
    assert eff.config.budget == Budget(dollars=50.0)
    assert eff.config.task_budget == Budget(tokens=5)


def test_notifications_are_off_unless_asked_for() -> None:
    plain = effective("p", Settings(repo="/r"), EMPTY)
    assert plain.config.notify_on == ()
    assert not plain.notify.enabled
    assert plain.config.budget == Budget()
    assert plain.config.task_budget == Budget()
    table = effective("p", Settings(repo="/r"), parse_config("[notify]\n", "plait.toml"))
    assert table.notify.on == ALL_KINDS
    assert table.config.notify_on == KINDS
    flag = effective("p", Settings(repo="/r", notify_webhook="http://h/x"), EMPTY)
    assert flag.notify.on == ALL_KINDS
    off = effective("p", Settings(repo="/r", notify_on=[]), parse_config("[notify]\n", "p"))
    assert off.config.notify_on == ()


_KEYS = st.sampled_from(
    ["project", "agent", "agents.x", "classes.A", "limits", "limits.agents", "ci", "worktree",
     "prompts", "liveness", "merge", "bogus", "main", "cap", "delay", "command", "default",
     "notify", "budget", "conflicts", "on", "webhook", "format", "dollars", "hold",
     "executor", "kind", "address", "task_queue", "tls_cert", "heartbeat_timeout"]
)  # fmt: skip
_VALUES = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_KEYS, _KEYS, _VALUES), max_size=8), st.text(max_size=40))
def test_any_input_gives_settings_or_located_problems(
    entries: list[tuple[str, str, object]], noise: str
) -> None:
    import json

    lines = []
    for table, key, value in entries:
        lines.append(f"[{table}]")
        lines.append(
            f"{key} = {json.dumps(value) if not isinstance(value, float) else repr(value)}"
        )
    for text in ("\n".join(lines), noise, "\n".join(lines) + "\n" + noise):
        problems = _problems(text)
        assert all(p.path == "plait.toml" and p.message for p in problems)


def _problems(text: str) -> tuple[PlanProblem, ...]:
    """What parsing `text` found wrong (nothing else may escape)."""
    try:
        parse_config(text, "plait.toml")
    except PlanError as exc:
        return exc.problems
    return ()


def test_agents_and_their_options_are_checked_with_the_line() -> None:
    from plait.engine.settings import check_agents

    text = (
        '[agent]\ndefault = "claude"\noptions = { max_turns = 5 }\n'
        '[agents.codx]\nmodel = "m"\n'
        '[agents.codex]\nmax_retries = "many"\n'
        '[classes.INFRA]\nagent = "gemnii"\n'
    )
    with pytest.raises(PlanError) as caught:
        check_agents(parse_config(text, "plait.toml"), text, "plait.toml")
    found = {(p.line, p.message) for p in caught.value.problems}
    assert (3, "agent 'claude' has no option 'max_turns'") in found
    assert any(line == 4 and "unknown agent 'codx'" in m for line, m in found)
    assert any(line == 7 and "max_retries" in m for line, m in found)
    assert any(line == 9 and "unknown agent 'gemnii'" in m for line, m in found)


def test_an_agent_cap_for_an_unknown_agent_is_refused_with_its_line() -> None:
    """Found trying plait: `[limits.agents] claud = 2` was "valid project settings" and
    capped no agent at all, while `[agents.codx]` was refused with "did you mean"."""
    from plait.engine.settings import check_agents

    text = '[agent]\ndefault = "claude"\n[limits.agents]\nclaude = 1\nclaud = 2\n'
    with pytest.raises(PlanError) as caught:
        check_agents(parse_config(text, "plait.toml"), text, "plait.toml")
    [problem] = caught.value.problems
    assert (problem.line, problem.message) == (5, "unknown agent 'claud'")
    assert "did you mean 'claude'?" in problem.hint


def test_the_script_flag_wins_over_plait_toml_and_its_paths_are_the_repositorys() -> None:
    """Found trying plait: with plait.toml's `options = { script = "…" }`, `plait run
    --script other.json` ran plait.toml's script: the flag lost to the file."""
    text = '[agent]\ndefault = "script"\noptions = { script = "agent/s.json" }\n'
    config = parse_config(text, "plait.toml")
    from_file = effective("p", Settings(repo="/r", agent="script"), config)
    assert from_file.backends["script"]["script"] == "/r/agent/s.json"
    flagged = Settings(repo="/r", agent="script", script="/elsewhere/other.json")
    assert effective("p", flagged, config).backends["script"]["script"] == "/elsewhere/other.json"


def test_a_flag_wins_even_when_it_says_what_the_default_says() -> None:
    """`--main main` with `main = "trunk"` in plait.toml worked on trunk: a flag equal to
    its default counted as not given."""
    config = parse_config(FULL, "plait.toml")
    flags = Settings(repo="/r", main_branch="main", idle_timeout=600.0,
                     given=("main_branch", "idle_timeout"))  # fmt: skip
    eff = effective("p", flags, config)
    assert eff.config.main_branch == "main"
    assert eff.settings.idle_timeout == 600.0
    assert eff.settings.turn_timeout == 3600.0  # not given, and plait.toml has none
    # Nothing given: plait.toml decides.
    none = effective("p", Settings(repo="/r", given=()), config)
    assert (none.config.main_branch, none.settings.idle_timeout) == ("trunk", 300.0)


def test_settings_stored_before_given_was_kept_load_as_before() -> None:
    """A stored record without `given`: a value other than its default was a flag, one at
    its default was not; the github forge's own poll interval is not a flag."""
    config = parse_config(FULL.replace("cooldown = 45.5", "cooldown = 45.5\npoll_interval = 12"),
                          "plait.toml")  # fmt: skip
    old = Settings(repo="/r", main_branch="dev", idle_timeout=600.0)
    back = Settings.from_json(json.dumps({k: v for k, v in json.loads(old.to_json()).items()
                                          if k != "given"}))  # fmt: skip
    assert back.given is None
    eff = effective("p", back, config)
    assert (eff.config.main_branch, eff.settings.idle_timeout) == ("dev", 300.0)
    github = Settings.from_json(Settings(repo="/r", forge="github", poll_interval=30.0).to_json())
    assert effective("p", github, config).settings.poll_interval == 12.0
    kept = Settings(repo="/r", given=("main_branch",))
    assert Settings.from_json(kept.to_json()) == kept


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[limits]\nmax_concurrency = true\n", "max_concurrency = true is not"),
        ("[liveness]\nidle_timeout = -5\n", "idle_timeout = -5 is not"),
        ("[liveness]\nidle_timeout = -2.5\n", "idle_timeout = -2.5 is not"),
        ('[notify]\non = ["atention"]\n', 'on = ["atention"] is not'),
        ("[notify]\non = 'idle'\n", 'on = "idle" is not'),
    ],
)  # fmt: skip
def test_a_wrong_value_is_quoted_as_toml_writes_it(text: str, says: str) -> None:
    """It was quoted in Python's spelling: `max_concurrency = True`, `idle_timeout = -5.0`
    for -5, `on = ['atention']`."""
    with pytest.raises(PlanError) as caught:
        parse_config(text, "plait.toml")
    assert says in caught.value.problems[0].message


def test_a_misspelt_notification_kind_is_answered_with_the_closest_one() -> None:
    with pytest.raises(PlanError) as caught:
        parse_config('[notify]\non = ["idle", "atention"]\n', "plait.toml")
    assert caught.value.problems[0].hint == 'did you mean "atention" → "attention"?'
