"""Markdown gameplans.

How this works: the text is split on `\\n` (so line numbers match editors and the JSON
reader) into sections at every level 1-3 ATX header outside a code fence; deeper headers
and fenced code stay inside the section that holds them. The first `#` header is the title.
`### Patch <id> [CLASS]: <title>` sections are patches, wherever they appear; `## Dependency
Graph` lines give dependencies; `## Open Questions` must hold no real question; every other
section is kept, verbatim, as the plan context agents receive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from plait.core.plan import Plan
from plait.plans.characters import report_characters, text_characters
from plait.plans.validate import Dep, Draft, Problems, finish_plan, normalize_class

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_PATCH = re.compile(
    r"^patch\s+#?(?P<id>[^\s:\[\]]+)\s*(?:\[(?P<cls>[^\]]*)\])?\s*(?P<rest>.*)$", re.IGNORECASE
)
# Every whitespace run is possessive (`*+`, `++`): two runs that may share the same spaces
# would make a line of n spaces cost n² steps before failing.
_GRAPH = re.compile(
    r"^\s*+[-*+]\s++(?:\*\*)?patch\s++#?(?P<id>[^\s:\[\]]+?)(?:\*\*)?\s*+"
    r"(?:\[(?P<cls>[^\]]*+)\]\s*+)?(?:->|→|=>)\s*+(?P<deps>.*)$",
    re.IGNORECASE,
)
_DEPENDS_ON = re.compile(r"^\s*(?:[-*+]\s+)?depends\s+on\s*:\s*(?P<deps>.*)$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^( *)(?:[-*+]|\d+[.)])\s+(?P<item>.*)$")
_NO_QUESTION = {"", "none", "na", "nothing", "noopenquestions", "noneyet", "noquestions"}
_GRAPH_HINT = "write dependency lines as '- Patch <id> [CLASS] -> [a, b]' (or '-> []')"
_PATCH_HINT = "write patch headers as '### Patch <id> [CLASS]: <title>'"


@dataclass(slots=True)
class _Line:
    number: int
    text: str
    fenced: bool


@dataclass(slots=True)
class _Section:
    level: int  # 0 for the text before the first header
    heading: str
    line: int
    raw: str
    body: list[_Line] = field(default_factory=list)


def parse_markdown(text: str, path: str) -> Plan:
    """Parse and validate a Markdown gameplan; raises only `PlanError`."""
    problems = Problems(path)
    text = text.removeprefix("\ufeff")
    report_characters(text_characters(text), text, problems)
    reader = _Reader(problems)
    for section in _sections(text):
        reader.take(section)
    drafts = reader.finish()
    return finish_plan(
        path=path,
        title=reader.title,
        context="\n\n".join(reader.context).strip(),
        drafts=drafts,
        problems=problems,
        title_line=reader.title_line,
        title_hint="start the file with a '# <title>' line",
    )


def _sections(text: str) -> list[_Section]:
    sections = [_Section(0, "", 1, "")]
    fence = ""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            sections[-1].body.append(_Line(number, line, True))
            continue
        head = line[:4]  # headers and fences start within the first four characters
        if "#" not in head and "`" not in head and "~" not in head:
            sections[-1].body.append(_Line(number, line, False))
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            sections[-1].body.append(_Line(number, line, True))
            continue
        header = _header(line)
        if header:
            sections.append(_Section(header[0], header[1], number, line))
        else:
            sections[-1].body.append(_Line(number, line, False))
    return sections


def _header(line: str) -> tuple[int, str] | None:
    """(level, text) of a level 1-3 ATX header, else None.

    By hand rather than with a regex: a pattern that tells the optional closing `#`s from
    the text backtracks over every trailing space, quadratic on a long line.
    """
    text = line.lstrip(" ")
    if len(line) - len(text) > 3:
        return None
    level = len(text) - len(text.lstrip("#"))
    text = text[level:]
    if not 1 <= level <= 3 or text[:1] not in ("", " ", "\t"):
        return None
    text = text.strip(" \t")
    unclosed = text.rstrip("#")
    if unclosed != text and unclosed[-1:] in ("", " ", "\t"):
        text = unclosed.rstrip(" \t")  # a closing sequence: `## Title ##`
    return level, text


def _body_text(section: _Section) -> str:
    return "\n".join(line.text for line in section.body).strip("\n")


def _id_list(text: str) -> list[str]:
    """`[1, 2a]`, `1, 2a`, `Patch 1 and Patch 2`, `[]` or `none` -> ids."""
    text = text.strip().replace("`", "")
    if text.startswith("["):
        text = text[1 : text.index("]")] if "]" in text else text[1:]
    tokens = [t.lstrip("#") for t in re.split(r"[,\s]+", text) if t]
    if [t.lower() for t in tokens] in (["none"], ["n/a"], ["-"]):
        return []
    return [t for t in tokens if t.lower() not in ("patch", "and", "")]


class _Reader:
    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.title = ""
        self.title_line = 1
        self.context: list[str] = []
        self.drafts: list[Draft] = []
        self.body_deps: dict[int, list[Dep]] = {}  # index in drafts -> "Depends on" deps
        self.graph: dict[str, tuple[int, list[Dep], str | None]] = {}
        self.h2 = ""

    def take(self, section: _Section) -> None:
        if section.level == 1 and not self.title:
            self.title_line = section.line
            self.title = re.sub(r"^gameplan\s*:\s*", "", section.heading, flags=re.IGNORECASE)
            self._context(section, with_header=False)
            return
        if section.level == 2:
            self.h2 = re.sub(r"[^a-z]", "", section.heading.lower())
        patch = _PATCH.match(section.heading) if section.level == 3 else None
        if patch:
            self._patch(section, patch)
        elif section.level == 3 and self.h2 == "patches":
            self.problems.add(
                section.line, f"not a patch header: {section.raw.strip()}", _PATCH_HINT
            )
        elif self.h2 == "dependencygraph":
            self._graph_lines(section)
        elif self.h2 == "openquestions":
            self._questions(section)
        elif self.h2 != "patches":
            self._context(section, with_header=section.level > 0)

    def _context(self, section: _Section, *, with_header: bool) -> None:
        body = _body_text(section)
        text = f"{section.raw}\n{body}" if with_header else body
        if text.strip():
            self.context.append(text.strip("\n"))

    def _patch(self, section: _Section, match: re.Match[str]) -> None:
        title = match.group("rest").strip()
        title = re.sub(r"^(?::|—|–|-(?=\s))\s*", "", title)
        draft = Draft(id=match.group("id"), line=section.line, title=title)
        if match.group("cls") is not None and match.group("cls").strip():
            draft.task_class = normalize_class(match.group("cls"), section.line, self.problems)
        draft.description = _body_text(section).strip()
        deps: list[Dep] = []
        said = False  # anything besides 'Depends on' lines
        for line in section.body:
            found = None if line.fenced else _DEPENDS_ON.match(line.text.replace("**", ""))
            if found:
                deps += [Dep(d, line.number) for d in _id_list(found.group("deps"))]
                self.body_deps.setdefault(len(self.drafts), deps)
            said = said or (found is None and bool(line.text.strip()))
        if not said:
            self.problems.warn(
                section.line,
                f"patch {draft.id!r} has an empty body",
                "write under its header what the agent should do; the title alone is all it gets",
            )
        self.drafts.append(draft)

    def _graph_lines(self, section: _Section) -> None:
        for line in section.body:
            if line.fenced or not line.text.strip():
                continue
            match = _GRAPH.match(line.text)
            if match is None:
                if _LIST_ITEM.match(line.text) and "patch" in line.text.lower():
                    self.problems.add(line.number, "cannot read this dependency line", _GRAPH_HINT)
                continue
            cls_text = match.group("cls")
            cls = None
            if cls_text is not None and cls_text.strip():
                cls = normalize_class(cls_text, line.number, self.problems)
            ident = match.group("id")
            if ident in self.graph:
                first = self.graph[ident][0]
                self.problems.add(
                    line.number,
                    f"patch {ident!r} has two dependency lines (first at line {first})",
                    "merge them into one line",
                )
                continue
            deps = [Dep(d, line.number) for d in _id_list(match.group("deps"))]
            self.graph[ident] = (line.number, deps, cls)

    def _questions(self, section: _Section) -> None:
        for line in section.body:
            item = None if line.fenced else _LIST_ITEM.match(line.text)
            if item is None or len(item.group(1)) > 1:
                continue
            text = item.group("item").strip()
            if re.match(r"^\[[xX]\]", text) or re.fullmatch(r"~~.*~~", text):
                continue  # ticked or struck through: resolved
            if re.sub(r"[^a-z0-9]", "", text.lower().removeprefix("[ ]")) in _NO_QUESTION:
                continue
            self.problems.add(
                line.number,
                "open questions must be resolved before running",
                "answer the question in the plan and remove it, or write '- None'",
            )

    def finish(self) -> list[Draft]:
        """Attach graph and 'Depends on' dependencies; report disagreements."""
        by_id: dict[str, Draft] = {}
        for draft in self.drafts:
            by_id.setdefault(draft.id, draft)
        for ident, (line, deps, cls) in self.graph.items():
            target = by_id.get(ident)
            if target is None:
                hint = self.problems.did_you_mean(ident, list(by_id))
                self.problems.add(
                    line,
                    f"dependency line for unknown patch {ident!r}",
                    f"{hint}list only patches that have a '### Patch {ident}' header",
                )
                continue
            target.deps = deps
            if cls and target.task_class is None:
                target.task_class = cls
            elif cls and cls != target.task_class:
                self.problems.add(
                    line,
                    f"patch {ident!r} is {target.task_class} in its header but {cls} here",
                    "make the two classes agree",
                )
        for index, body in self.body_deps.items():
            draft = self.drafts[index]
            if draft.id in self.graph and by_id[draft.id] is draft:
                self._check_agree(draft, body)
            else:
                draft.deps = body
        return self.drafts

    def _check_agree(self, draft: Draft, body: list[Dep]) -> None:
        graph_ids = sorted({d.id for d in draft.deps})
        body_ids = sorted({d.id for d in body})
        if graph_ids != body_ids:
            self.problems.add(
                body[0].line if body else draft.line,
                f"'Depends on' for patch {draft.id!r} says {body_ids} "
                f"but the dependency graph says {graph_ids}",
                "make them agree, or keep only the dependency graph line",
            )
