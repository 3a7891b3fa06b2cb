"""Agent backends: command lines, clean environments, stream decoders, prompts, and the
runner that executes one turn as a subprocess. Other packages import from here only."""

from plait.agents.base import AgentBackend, StreamDecoder, TurnSpec
from plait.agents.claude import ClaudeBackend, ClaudeStreamDecoder
from plait.agents.env import clean_env
from plait.agents.events import (
    FAILURE_CLASSES,
    AgentErrorEvent,
    AgentEvent,
    FinalResult,
    Garbage,
    SessionStarted,
    TextOut,
    ToolCall,
    ToolResult,
    UsageReport,
)
from plait.agents.failures import classify_failure
from plait.agents.options import OptionSpec
from plait.agents.prompts import render_prompt
from plait.agents.registry import BACKENDS, backend_options, get_backend, register
from plait.agents.runner import TurnOutcome, run_turn
from plait.agents.script import ScriptBackend, load_script
from plait.agents.stream import LineSplitter

__all__ = [
    "BACKENDS",
    "FAILURE_CLASSES",
    "AgentBackend",
    "AgentErrorEvent",
    "AgentEvent",
    "ClaudeBackend",
    "ClaudeStreamDecoder",
    "FinalResult",
    "Garbage",
    "LineSplitter",
    "OptionSpec",
    "ScriptBackend",
    "SessionStarted",
    "StreamDecoder",
    "TextOut",
    "ToolCall",
    "ToolResult",
    "TurnOutcome",
    "TurnSpec",
    "UsageReport",
    "backend_options",
    "classify_failure",
    "clean_env",
    "get_backend",
    "load_script",
    "register",
    "render_prompt",
    "run_turn",
]
