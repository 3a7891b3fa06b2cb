"""JSON gameplans (the write-gameplan schema, formatVersion 3 and older shapes).

How this works: `read_json` parses the text and remembers where each value was written, so
every problem below names the line of the offending key or item. Patches become `Draft`s;
dependencies are the union of `dependencyGraph`, `functionalChanges` (each consumer in
`requiredBy` depends on the owner), `orderingConstraints` and a patch's own `dependsOn`.
Fields this module does not know are ignored; shapes it half-knows are read leniently.
"""

from __future__ import annotations

from plait.core.plan import Plan
from plait.errors import PlanError
from plait.plans.characters import json_characters, report_characters
from plait.plans.json_render import (
    CRITERION_PATCH_KEYS,
    as_list,
    file_paths,
    mentioned_patches,
    render_context,
    render_description,
    text_of,
)
from plait.plans.jsonpos import JsonSyntaxError, JsonTooDeep, Located, read_json
from plait.plans.validate import Dep, Draft, Problems, finish_plan, normalize_class

JsonObj = dict[str, object]
# The top object and the lists in it: enough to know the line of every patch.
_TRACK_DEPTH = 2
_NESTING_HINT = "a gameplan nests about six levels; flatten this value or write it as text"
_MAX_WEIGHT = 1_000_000  # a relative weight; more would only slow the scheduler's sums


def parse_json(text: str, path: str) -> Plan:
    """Parse and validate a JSON gameplan; raises only `PlanError`."""
    problems = Problems(path)
    text = text.removeprefix("\ufeff")
    try:
        # Positions of patches are needed for every plan, deeper ones only for messages.
        doc = read_json(text, track_depth=_TRACK_DEPTH)
    except JsonSyntaxError as exc:
        line = Located(value=None, text=text).line_of(exc.pos)
        if isinstance(exc, JsonTooDeep):
            problems.add(line, f"values are {exc.message}", _NESTING_HINT)
        else:
            problems.add(line, f"not valid JSON: {exc.message}", "fix the JSON syntax on this line")
        problems.raise_if_any()
        raise AssertionError("unreachable") from None
    if not isinstance(doc.value, dict):
        problems.add(1, "a JSON gameplan must be an object", 'start the file with "{"')
        problems.raise_if_any()
    report_characters(json_characters(text), text, problems)
    try:
        return _Gameplan(doc, Problems(path, problems.items)).plan()
    except PlanError as shallow_error:
        if doc.exact:
            raise
        # Something is wrong: read again tracking every position, so each problem has
        # its line.
        try:
            exact = read_json(text)
        except JsonSyntaxError:
            raise shallow_error from None
    return _Gameplan(exact, Problems(path, problems.items)).plan()


class _Gameplan:
    def __init__(self, doc: Located, problems: Problems) -> None:
        self.doc = doc
        self.problems = problems
        assert isinstance(doc.value, dict)
        self.root: JsonObj = doc.value
        self.drafts: list[Draft] = []
        self.patch_objs: list[JsonObj] = []
        self.by_id: dict[str, Draft] = {}

    def plan(self) -> Plan:
        root, doc = self.root, self.doc
        for key, first, again in doc.duplicates:
            self.problems.add(
                doc.line_of(again),
                f"duplicate key {key!r} (first at line {doc.line_of(first)})",
                "keep one of them; JSON readers silently drop the first",
            )
        title = self._title()
        self._patches()
        self._dependency_graph()
        owned = self._functional_changes()
        self._ordering_constraints()
        self._open_questions()
        criteria = self._criteria_by_patch()
        for draft, obj in zip(self.drafts, self.patch_objs, strict=True):
            draft.description = render_description(
                obj, owned.get(draft.id, []), criteria.get(draft.id, [])
            )
            if not draft.description:
                self.problems.warn(
                    draft.line,
                    f"patch {draft.id!r} has an empty body",
                    "say what the agent should do in 'changes', 'files' or 'spec'; the "
                    "title alone is all it gets",
                )
        return finish_plan(
            path=self.problems.path,
            title=title,
            context=render_context(root),
            drafts=self.drafts,
            problems=self.problems,
            title_line=doc.key_line(root, "projectName", doc.line(root)),
            title_hint='set "projectName" to the name of the plan',
        )

    # -- reading helpers ---------------------------------------------------------------

    def _key_line(self, obj: JsonObj, key: str) -> int:
        line = self.doc.key_line(obj, key)
        return line or self.doc.line(obj)

    def _id(self, value: object, line: int, what: str) -> str | None:
        """A task id from a patch number (int or string); reports anything else."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problems.add(
            line,
            f"{what} must be a patch number or id, not {text_of(value)[:60]}",
            'e.g. 3 or "2a"',
        )
        return None

    def _ids(self, obj: JsonObj, key: str, what: str) -> list[tuple[str, int]]:
        """The ids under `obj[key]` (one id or a list of them), each with its line."""
        value = obj.get(key)
        found: list[tuple[str, int]] = []
        if isinstance(value, list):
            for i, item in enumerate(value):
                line = self.doc.item_line(value, i)
                ident = self._id(item, line, what)
                if ident is not None:
                    found.append((ident, line))
        elif value is not None:
            line = self._key_line(obj, key)
            ident = self._id(value, line, what)
            if ident is not None:
                found.append((ident, line))
        return found

    def _objects(self, key: str) -> list[tuple[JsonObj, int]]:
        """The objects in a top-level list, each with its line; reports other items."""
        value = self.root.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            line = self._key_line(self.root, key)
            self.problems.add(line, f"{key!r} must be a list", "write [ ... ]")
            return []
        out: list[tuple[JsonObj, int]] = []
        for i, item in enumerate(value):
            line = self.doc.item_line(value, i)
            if isinstance(item, dict):
                out.append((item, line))
            else:
                self.problems.add(line, f"each item of {key!r} must be an object", "write { ... }")
        return out

    def _known(self, ident: str, line: int, what: str) -> Draft | None:
        draft = self.by_id.get(ident)
        if draft is None:
            self.problems.add(
                line,
                f"{what} names unknown patch {ident!r}",
                f"{self.problems.did_you_mean(ident, list(self.by_id))}"
                "use the number of a patch in 'patches'",
            )
        return draft

    # -- sections ------------------------------------------------------------------------

    def _title(self) -> str:
        value = self.root.get("projectName")
        if isinstance(value, str):
            return value
        if value is not None:
            self.problems.add(
                self._key_line(self.root, "projectName"),
                "'projectName' must be a string",
                'e.g. "auth-rewrite"',
            )
            return "?"
        return ""

    def _patches(self) -> None:
        if "patches" not in self.root:
            return
        for obj, line in self._objects("patches"):
            if "number" not in obj:
                self.problems.add(line, "patch has no 'number'", 'give each patch a "number"')
                continue
            ident = self._id(obj["number"], self._key_line(obj, "number"), "'number'")
            if ident is None:
                continue
            draft = Draft(id=ident, line=line, title=self._patch_title(obj, line))
            draft.task_class = self._class(obj)
            draft.weight = self._weight(obj)
            draft.files = file_paths(obj.get("files"))
            for key in ("dependsOn", "dependencies"):
                draft.deps += [Dep(i, n) for i, n in self._ids(obj, key, f"{key!r}")]
            self.drafts.append(draft)
            self.patch_objs.append(obj)
            self.by_id.setdefault(ident, draft)

    def _patch_title(self, obj: JsonObj, line: int) -> str:
        title = obj.get("title")
        if title is None or isinstance(title, str):
            return title or ""
        self.problems.add(
            self._key_line(obj, "title"), "'title' must be a string", "write the title in quotes"
        )
        return "?"

    def _class(self, obj: JsonObj) -> str | None:
        value = obj.get("classification")
        if value is None:
            return None
        line = self._key_line(obj, "classification")
        if isinstance(value, str):
            return normalize_class(value, line, self.problems)
        self.problems.add(line, "'classification' must be a string", 'e.g. "INFRA"')
        return None

    def _weight(self, obj: JsonObj) -> int:
        value = obj.get("complexity")
        if value is None:
            return 1
        # Bounded before int(): Python refuses to convert more than 4,300 digits.
        if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 7:
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_WEIGHT:
            return value
        self.problems.add(
            self._key_line(obj, "complexity"),
            f"'complexity' must be a whole number from 1 to 1,000,000, not {text_of(value)[:20]}",
            'e.g. "complexity": 3',
        )
        return 1

    def _dependency_graph(self) -> None:
        seen: dict[str, int] = {}
        for entry, line in self._objects("dependencyGraph"):
            found = self._ids(entry, "patch", "'patch'")
            if not found:
                if "patch" not in entry:
                    self.problems.add(
                        line, "dependency graph entry has no 'patch'", 'add "patch": <number>'
                    )
                continue
            ident, id_line = found[0]
            draft = self._known(ident, id_line, "dependency graph entry")
            if draft is None:
                continue
            if ident in seen:
                self.problems.add(
                    id_line,
                    f"patch {ident!r} is in 'dependencyGraph' twice (first at line {seen[ident]})",
                    "merge the two entries",
                )
            seen.setdefault(ident, id_line)
            self._graph_class(entry, draft)
            draft.deps += [Dep(i, n) for i, n in self._ids(entry, "dependsOn", "'dependsOn'")]

    def _graph_class(self, entry: JsonObj, draft: Draft) -> None:
        cls = self._class(entry)
        if cls is None:
            return
        if draft.task_class is None:
            draft.task_class = cls
        elif draft.task_class != cls:
            self.problems.add(
                self._key_line(entry, "classification"),
                f"patch {draft.id!r} is {draft.task_class} in 'patches' but {cls} here",
                "make the two classifications agree",
            )

    def _functional_changes(self) -> dict[str, list[object]]:
        owned: dict[str, list[object]] = {}
        for change, _ in self._objects("functionalChanges"):
            owners = self._ids(change, "ownedBy", "'ownedBy'")
            if not owners:
                continue
            owner, owner_line = owners[0]
            if self._known(owner, owner_line, "functional change 'ownedBy'") is None:
                continue
            owned.setdefault(owner, []).append(change)
            for consumer, line in self._ids(change, "requiredBy", "'requiredBy'"):
                draft = self._known(consumer, line, "functional change 'requiredBy'")
                if draft is not None and consumer != owner:
                    draft.deps.append(Dep(owner, line))
        return owned

    def _ordering_constraints(self) -> None:
        """Lenient: `{before, after}` pairs, or `{patch, after|dependsOn|before}`."""
        value = self.root.get("orderingConstraints")
        for item in as_list(value):
            if not isinstance(item, dict):
                continue  # prose constraints are for humans
            if "patch" in item:
                subject = self._ids(item, "patch", "'patch'")[:1]
                firsts = self._ids(item, "after", "'after'") + self._ids(
                    item, "dependsOn", "'dependsOn'"
                )
                thens = self._ids(item, "before", "'before'")
                self._order(firsts, subject)
                self._order(subject, thens)
            elif "before" in item and "after" in item:
                self._order(
                    self._ids(item, "before", "'before'"), self._ids(item, "after", "'after'")
                )

    def _order(self, firsts: list[tuple[str, int]], thens: list[tuple[str, int]]) -> None:
        for then, then_line in thens:
            draft = self._known(then, then_line, "ordering constraint")
            for first, line in firsts:
                if self._known(first, line, "ordering constraint") and draft and first != then:
                    draft.deps.append(Dep(first, line))

    def _open_questions(self) -> None:
        value = self.root.get("openQuestions")
        hint = "resolve each open question and empty the list"
        if isinstance(value, list):
            for i, question in enumerate(value):
                line = self.doc.item_line(value, i)
                self.problems.add(line, f"open question: {text_of(question)[:120]}", hint)
        elif value:
            self.problems.add(
                self._key_line(self.root, "openQuestions"),
                "open questions must be resolved before running",
                hint,
            )

    def _criteria_by_patch(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for criterion in as_list(self.root.get("acceptanceCriteria")):
            text = text_of(criterion)
            ids: set[str] = set()
            if isinstance(criterion, dict):
                for key in CRITERION_PATCH_KEYS:
                    for item in as_list(criterion.get(key)):
                        if isinstance(item, str | int) and not isinstance(item, bool):
                            ids.add(str(item).strip())
            else:
                ids = mentioned_patches(text)
            for ident in sorted(ids & self.by_id.keys()):
                out.setdefault(ident, []).append(text)
        return out
