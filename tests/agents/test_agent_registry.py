"""The backend registry: lookup by name, each backend's declared options, registration.

Every option a user can give an agent (`--agent-opt KEY=VALUE`, later `plait.toml`) is
checked against the option schema the backend declares; whatever is wrong with it ends in
a UsageError that names the option and the fix, never in another exception.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plait.agents import (
    BACKENDS,
    ClaudeBackend,
    OptionSpec,
    ScriptBackend,
    TurnSpec,
    backend_options,
    get_backend,
    register,
)
from plait.agents.base import AgentBackend
from plait.agents.pi import PiBackend
from plait.errors import AgentError, PlaitError, UsageError

BUILT_IN = ("claude", "codex", "opencode", "pi", "gemini", "script")
PROVIDER_CLIS = ("codex", "opencode", "pi", "gemini")


def test_known_backends() -> None:
    claude = get_backend("claude", {"model": "m"})
    assert isinstance(claude, ClaudeBackend)
    assert claude.model == "m"
    assert claude.name == "claude"
    script = get_backend("script")
    assert isinstance(script, ScriptBackend)
    assert script.script is None


def test_script_option_goes_to_the_script_backend_only(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"default": {}}')
    backend = get_backend("script", script=str(path))
    assert isinstance(backend, ScriptBackend)
    assert backend.script == str(path)
    assert isinstance(get_backend("claude", script=str(path)), ClaudeBackend)


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(AgentError) as info:
        get_backend("nope")
    assert "nope" in info.value.message
    assert "claude" in info.value.hint
    assert "script" in info.value.hint


def test_a_bad_script_is_an_agent_error(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="cannot read agent script"):
        get_backend("script", script=str(tmp_path / "missing.json"))


# ---- the declared options ------------------------------------------------------------------
def test_every_backend_declares_its_options_with_help() -> None:
    for name in BUILT_IN:
        options = backend_options(name)
        assert "pass_forge_token" in options, name
        for key, spec in options.items():
            assert isinstance(spec, OptionSpec)
            assert spec.name == key
            assert spec.help, f"{name}.{key} has no help"
            assert spec.kind.label
            assert spec.requires in ("", *options), f"{name}.{key} requires an unknown option"
            # The example shown in error messages is itself a valid value.
            spec.parse(spec.kind.example, backend=name)
    for name in PROVIDER_CLIS:
        assert {"base_url", "api_key", "config_home", "max_retries"} <= set(backend_options(name))
    assert "base_url" not in backend_options("claude")
    assert "provider" not in backend_options("gemini")  # gemini names no provider
    assert list(backend_options("script")) == ["pass_forge_token", "script", "python"]


def test_an_unknown_option_is_a_usage_error_that_suggests_the_closest() -> None:
    with pytest.raises(UsageError) as info:
        get_backend("pi", {"base_ur": "http://127.0.0.1:9"})
    assert info.value.exit_code == 2
    assert "base_ur" in info.value.message
    assert "did you mean base_url?" in info.value.hint
    assert "config_home" in info.value.hint  # the valid keys are listed
    with pytest.raises(UsageError, match="has no option colour"):
        get_backend("claude", {"colour": "blue"})


@pytest.mark.parametrize(
    ("name", "key", "value", "expected"),
    [
        ("codex", "max_retries", "many", "whole number"),
        ("pi", "max_retries", -1, "whole number"),
        ("claude", "pass_forge_token", "maybe", "true or false"),
        ("opencode", "base_url", "127.0.0.1:8080", "http"),
        ("gemini", "base_url", "http://", "http"),
        ("claude", "extra_args", "--say 'unclosed", "arguments"),
        ("claude", "model", ["a", "list"], "text"),
        ("pi", "api_key", "k\0ey", "NUL"),
    ],
)
def test_a_bad_value_names_the_option_and_how_to_write_it(
    name: str, key: str, value: object, expected: str
) -> None:
    with pytest.raises(UsageError) as info:
        get_backend(
            name, {"base_url": "http://h", key: value} if key == "api_key" else {key: value}
        )
    assert f"option {key}=" in info.value.message
    assert expected in str(info.value)
    assert f"--agent-opt {key}=" in info.value.hint


def test_an_option_without_the_one_it_needs_says_which() -> None:
    for key, value in (("api_key", "k"), ("max_retries", 0), ("provider", "corp")):
        with pytest.raises(UsageError) as info:
            get_backend("codex", {key: value})
        assert f"{key} has no effect without base_url" in info.value.message
        assert "--agent-opt base_url=" in info.value.hint


def test_values_written_as_text_become_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = get_backend(
        "pi",
        {
            "base_url": "http://127.0.0.1:9",
            "max_retries": "3",
            "pass_forge_token": "true",
            "extra_args": "--verbose --name 'two words'",
            "config_home": "homes/pi",
            "model": 4,  # the CLI's guess that "4" was a number is undone
        },
    )
    assert isinstance(backend, PiBackend)
    assert backend.max_retries == 3
    assert backend.pass_forge_token is True
    assert backend.extra_args == ("--verbose", "--name", "two words")
    assert backend.config_home == str(tmp_path / "homes" / "pi")  # absolute: cwds differ
    assert backend.model == "4"


def test_building_a_backend_writes_nothing(tmp_path: Path) -> None:
    for name in PROVIDER_CLIS:
        home = tmp_path / name
        get_backend(name, {"base_url": "http://h", "config_home": str(home), "max_retries": 1})
        assert not home.exists(), name


def test_a_custom_provider_without_config_home_gets_the_projects_folder(tmp_path: Path) -> None:
    """`--agent pi --agent-opt base_url=…` used to end in a ValueError traceback from the
    constructor; now the home defaults to a folder of the project, so sessions resume."""
    home = tmp_path / "project" / "agents" / "pi"
    backend = get_backend("pi", {"base_url": "http://127.0.0.1:9"}, home=str(home))
    assert isinstance(backend, PiBackend)
    assert backend.config_home == str(home)
    backend.prepare_home()
    assert (home / "models.json").is_file()
    assert backend.env({}, TurnSpec(prompt="p", workdir="/w"))["PI_CODING_AGENT_DIR"] == str(home)
    # Without a custom provider the CLI keeps its own home (and the user's login).
    assert get_backend("pi", home=str(home)).config_home == ""  # type: ignore[attr-defined]
    given = get_backend("pi", {"base_url": "http://h", "config_home": str(tmp_path / "mine")})
    assert given.config_home == str(tmp_path / "mine")  # type: ignore[attr-defined]


def test_preparing_a_custom_provider_without_any_home_is_a_usage_error() -> None:
    backend = get_backend("gemini", {"base_url": "http://127.0.0.1:9"})
    with pytest.raises(UsageError) as info:
        backend.prepare_home()
    assert "config_home" in info.value.message
    assert "--agent-opt config_home=" in info.value.hint


# ---- any input at all ----------------------------------------------------------------------
_JUNK = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["http://127.0.0.1:9", "https://h/v1", "true", "0", "7", "'", "~/x"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_SPEC = TurnSpec(prompt="p", workdir="/w", task_id="t1", session_id="s1", model="m")


@st.composite
def backend_and_options(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A backend and options for it: some of its own options with values of the right
    kind, and half the time one more key (its own or any text) with any value at all."""
    name = draw(st.sampled_from(BUILT_IN))
    schema = backend_options(name)
    keys = draw(st.lists(st.sampled_from(list(schema)), max_size=5, unique=True))
    options: dict[str, object] = {key: schema[key].kind.example for key in keys}
    if draw(st.booleans()):
        key = draw(st.one_of(st.sampled_from(list(schema)), st.text(max_size=12)))
        options[key] = draw(_JUNK)
    return name, options


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backend_and_options())
def test_any_options_build_a_backend_or_raise_a_usage_or_agent_error(
    case: tuple[str, dict[str, object]],
) -> None:
    name, options = case
    try:
        backend = get_backend(name, options)
    except (UsageError, AgentError) as exc:
        problem: PlaitError = exc
    else:
        # What was accepted also makes a command line and an environment.
        assert all(isinstance(arg, str) for arg in backend.argv(_SPEC))
        env = backend.env({"PATH": "/bin"}, _SPEC)
        assert all(isinstance(v, str) and "\0" not in v for v in env.values())
        return
    assert problem.message
    assert problem.hint


def test_the_property_sees_every_failure_a_user_can_cause() -> None:
    """The two error classes the property allows are user errors with an exit code."""
    assert issubclass(UsageError, PlaitError)
    assert issubclass(AgentError, PlaitError)
    assert UsageError("x").exit_code == 2


# ---- plugins -------------------------------------------------------------------------------
def test_register_adds_and_refuses_duplicates() -> None:
    def factory(**opts: object) -> AgentBackend:
        return ClaudeBackend(executable="my-claude")

    register("test-only", factory)
    try:
        backend = get_backend("test-only")
        assert isinstance(backend, ClaudeBackend)
        assert backend.executable == "my-claude"
        assert backend_options("test-only") == {}
        with pytest.raises(AgentError, match="already registered"):
            register("test-only", factory)
        register("test-only", factory, replace=True)
    finally:
        del BACKENDS["test-only"]


def test_a_registered_factory_refusing_its_options_is_a_usage_error() -> None:
    def factory(*, colour: str = "red") -> AgentBackend:
        return ClaudeBackend(executable=colour)

    register("test-only", factory)
    try:
        assert get_backend("test-only", {"colour": "blue"}).name == "claude"
        with pytest.raises(UsageError, match="bad options"):
            get_backend("test-only", {"size": 3})
    finally:
        del BACKENDS["test-only"]


def test_python_option_of_the_script_backend_defaults_to_this_interpreter() -> None:
    backend = get_backend("script")
    assert isinstance(backend, ScriptBackend)
    assert backend.argv(_SPEC)[0] == backend.python
    assert os.path.isabs(backend.python)
