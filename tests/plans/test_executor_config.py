"""Where agent turns run: plait.toml's [executor] and --executor, checked and merged."""

from __future__ import annotations

import pytest

from plait.engine.settings import Settings, effective
from plait.errors import PlanError, UsageError
from plait.plans.config import parse_config
from plait.plans.executor import LOCAL, ExecutorConfig, executor_from_flag

FULL = """\
[agent]
default = "claude"

[executor]
kind = "temporal"
address = "temporal.internal:7233"
namespace = "plait-prod"
task_queue = "agents"
remote = "git@forge:org/repo.git"
heartbeat_timeout = 20
tls_ca = "/etc/plait/ca.pem"
tls_cert = "/etc/plait/client.pem"
tls_key = "/etc/plait/client.key"
tls_server_name = "temporal.internal"
api_key_env = "TEMPORAL_API_KEY"
"""


def test_the_executor_table_is_read() -> None:
    config = parse_config(FULL).executor
    assert config == ExecutorConfig(
        kind="temporal",
        address="temporal.internal:7233",
        namespace="plait-prod",
        task_queue="agents",
        remote="git@forge:org/repo.git",
        heartbeat_timeout=20.0,
        tls_ca="/etc/plait/ca.pem",
        tls_cert="/etc/plait/client.pem",
        tls_key="/etc/plait/client.key",
        tls_server_name="temporal.internal",
        api_key_env="TEMPORAL_API_KEY",
    )
    assert config.uses_tls
    assert config.url == "temporal://temporal.internal:7233/agents?namespace=plait-prod"


def test_no_table_means_turns_run_here() -> None:
    assert parse_config("[agent]\ndefault = 'codex'\n").executor is None
    eff = effective("p", Settings(repo="/r"), parse_config(""))
    assert eff.executor == LOCAL
    assert eff.executor.url == "local"


@pytest.mark.parametrize(
    ("body", "line", "says", "hint"),
    [
        ('kind = "cloud"', 3, 'kind = "cloud" is not an executor', "local, temporal"),
        ('address = "temporal.internal"', 3, "is not HOST:PORT", "HOST:PORT"),
        ('address = "h:99999"', 3, "no port between 1 and 65535", "HOST:PORT"),
        ('address = "h:²"', 3, "no port between 1 and 65535", "HOST:PORT"),  # was a traceback
        ('task_queue = "a b"', 3, "is not a queue name", "letters, digits"),
        ('api_key_env = "$KEY"', 3, "is not an environment variable name", "TEMPORAL_API_KEY"),
        ("heartbeat_timeout = 0", 3, "is not a number of seconds greater than 0", "seconds"),
        ('tls_cert = "/c.pem"', 3, "tls_cert and tls_key go together", "both paths"),
        ('adress = "h:1"', 3, "unknown key 'adress' in [executor]", "did you mean 'address'?"),
    ],
)
def test_problems_name_the_line_and_the_fix(body: str, line: int, says: str, hint: str) -> None:
    text = f"# where turns run\n[executor]\n{body}\n"
    with pytest.raises(PlanError) as caught:
        parse_config(text, "plait.toml")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("plait.toml", line)
    assert says in problem.message
    assert hint in problem.hint


def test_the_flag_names_a_server_and_a_queue() -> None:
    assert executor_from_flag("local") == LOCAL
    got = executor_from_flag("temporal://127.0.0.1:7233/plait")
    assert (got.kind, got.address, got.task_queue, got.namespace) == (
        "temporal", "127.0.0.1:7233", "plait", "default"
    )  # fmt: skip
    assert executor_from_flag("temporal://h:1/q?namespace=ns").namespace == "ns"
    assert executor_from_flag("temporal://h:1").task_queue == "plait"


@pytest.mark.parametrize(
    "text", ["temporal", "http://h:1/q", "temporal://h/q", "temporal://h:1/a b", "temporal://:1/q"]
)
def test_a_bad_flag_says_what_to_write(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        executor_from_flag(text)
    assert "temporal://HOST:PORT/QUEUE" in caught.value.hint


def test_the_flag_wins_over_the_file_and_keeps_its_tls() -> None:
    flagged = Settings(repo="/r", executor="temporal://other:7000/fast")
    eff = effective("p", flagged, parse_config(FULL))
    assert (eff.executor.address, eff.executor.task_queue) == ("other:7000", "fast")
    assert eff.executor.namespace == "plait-prod"
    assert eff.executor.tls_ca == "/etc/plait/ca.pem"
    local = effective("p", Settings(repo="/r", executor="local"), parse_config(FULL))
    assert local.executor.kind == "local"
