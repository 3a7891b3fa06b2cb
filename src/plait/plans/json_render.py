"""Readable Markdown for agents from the loose fields of a JSON gameplan.

The write-gameplan schema has changed shape over versions (strings here, objects there), so
every renderer accepts any JSON value and falls back to compact JSON for shapes it does not
know, rather than refusing a plan over prose.
"""

from __future__ import annotations

import json
import re

# Keys that, in an acceptance criterion object, name the patches it is about.
CRITERION_PATCH_KEYS = (
    "patch",
    "patches",
    "patchNumber",
    "ownedBy",
    "verifiedBy",
    "relatedPatches",
)
_TEXT_KEYS = ("description", "criterion", "text", "summary", "name", "title", "id")
_PATCH_MENTION = re.compile(r"\bpatch(?:es)?\s+#?([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE)


def text_of(value: object) -> str:
    """One line of prose for a loose value: a string as is, an object by its text field."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        for key in _TEXT_KEYS:
            found = value.get(key)
            if isinstance(found, str) and found.strip():
                return found.strip()
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except RecursionError:  # the C decoder reads deeper nesting than the encoder writes
        return "(nested too deep to show)"


def as_list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def mentioned_patches(text: str) -> set[str]:
    """Ids a prose criterion refers to as "Patch 3" or "patch #2a"."""
    return {m.group(1).rstrip(".") for m in _PATCH_MENTION.finditer(text)}


def _bullets(values: list[object]) -> list[str]:
    return [f"- {text_of(v)}" for v in values]


def file_paths(value: object) -> tuple[str, ...]:
    """The paths of a patch's `files` (each a path, or an object with a "path")."""
    paths = []
    for entry in as_list(value):
        path = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(path, str) and path.strip():
            paths.append(path.strip())
    return tuple(dict.fromkeys(paths))


def _file_line(entry: object) -> str:
    if not isinstance(entry, dict):
        return f"- {text_of(entry)}"
    path, action, desc = (entry.get(k) for k in ("path", "action", "description"))
    line = f"- `{path}`" if isinstance(path, str) else f"- {text_of(entry)}"
    if isinstance(action, str) and action:
        line += f" ({action})"
    if isinstance(desc, str) and desc.strip():
        line += f": {desc.strip()}"
    return line


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"### {title}", "", *lines, ""] if lines else []


def render_description(
    patch: dict[str, object], owned_changes: list[object], criteria: list[str]
) -> str:
    """The task description an agent reads for one patch."""
    out: list[str] = []
    out += _section("Changes", _bullets(as_list(patch.get("changes"))))
    out += _section("Files", [_file_line(f) for f in as_list(patch.get("files"))])
    spec = patch.get("spec")
    if spec:
        out += _section("Spec", [text_of(spec) if not isinstance(spec, str) else spec.strip()])
    out += _section("Functional changes owned", [_change_line(c) for c in owned_changes])
    out += _section("Required context", _bullets(as_list(patch.get("requiredContext"))))
    out += _section("Test stubs introduced", _bullets(as_list(patch.get("testStubsIntroduced"))))
    out += _section("Test stubs implemented", _bullets(as_list(patch.get("testStubsImplemented"))))
    out += _section("Acceptance criteria", [f"- {c}" for c in criteria])
    return "\n".join(out).strip()


def _change_line(change: object) -> str:
    if isinstance(change, dict):
        ident, desc = change.get("id"), change.get("description")
        if isinstance(ident, str | int) and isinstance(desc, str):
            return f"- {ident}: {desc.strip()}"
    return f"- {text_of(change)}"


def render_context(root: dict[str, object]) -> str:
    """Plan-wide prose every agent receives: problem, solution, acceptance criteria."""
    out: list[str] = []
    for key, title in (
        ("problemStatement", "Problem Statement"),
        ("solutionSummary", "Solution Summary"),
    ):
        value = root.get(key)
        if value:
            body = value.strip() if isinstance(value, str) else text_of(value)
            out += [f"## {title}", "", body, ""]
    criteria = as_list(root.get("acceptanceCriteria"))
    if criteria:
        out += ["## Acceptance Criteria", "", *_bullets(criteria), ""]
    return "\n".join(out).strip()
