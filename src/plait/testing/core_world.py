"""The git repository and forge that `CoreDriver` simulates around the controller.

How this works. `SimWorld` keeps branch tips, one worktree head per task and one `SimPR`
per task (head, CI result per head, review threads, draft, base, mergeable), and turns an
effect plus a chosen outcome into the result event a real shell would send. It is
at-least-once safe like the real shells: a re-run Merge returns the same merge commit,
OpenPR reuses the open PR. It raises `SimViolation` when asked for something a real
repository or forge would punish: merging a red or stacked PR, deleting a branch an open
PR is based on, working in a removed worktree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import CIStatus, PRView, ReviewThread, Usage

Outcome = Literal[
    "ok",
    "fail",
    "fatal",
    "conflict",
    "nochange",
    "session",
    "killed",
    # merge landing: an agent that says there is nothing to do, a change of ticket files
    # only, a reviewer asking for changes, main moving under a merge, red CI on a merge
    "skip",
    "tickets",
    "reject",
    # PR landing: a needs-changes verdict the forge posted for people only (no second
    # GitHub account): nothing of it comes back by the poll
    "reject_unheard",
    "behind",
    "ci",
    # a merge held by the user's main checkout (uncommitted changes): not the task's fault
    "held",
]

HELD_ERROR = "main checkout at /r has uncommitted changes; commit or stash them"

MAIN_ROOT = "0" * 40


class SimViolation(AssertionError):
    """The controller asked the world for something a real repository or forge forbids."""


class _Result(TypedDict):
    """The fields every effect result carries."""

    at: float
    effect_id: str
    task: str


@dataclass(slots=True, kw_only=True)
class SimPR:
    number: int
    task: str
    branch: str
    base: str
    head: str
    draft: bool = True
    state: str = "open"
    threads: list[ReviewThread] = field(default_factory=list)
    mergeable: bool = True
    merge_sha: str = ""
    merges: int = 0  # times the forge really merged it; must end at exactly 1


class SimWorld:
    def __init__(self, *, main: str, agent_seconds: float, ci_seconds: float) -> None:
        self.main = main
        self.agent_seconds = agent_seconds
        self.ci_seconds = ci_seconds
        self.now = 0.0
        self.tips: dict[str, str] = {main: MAIN_ROOT}  # remote branch tips
        self.deleted: set[str] = set()
        self.worktrees: dict[str, str] = {}  # task → local head
        self.wt_base: dict[str, str] = {}  # task → commit the worktree is based on
        self.removed: set[str] = set()  # removed worktree paths
        self.commits: dict[str, int] = {}
        self.prs: dict[str, SimPR] = {}
        self.ci: dict[str, CIStatus] = {}  # head → CI result
        self.ci_evidence: dict[str, str] = {}
        self.ci_due: dict[str, tuple[float, str]] = {}  # head → (when it finishes, task)
        self.needs_rebase: set[str] = set()
        self.notified: list[fx.Notify] = []  # every notification sent, resends included
        self.landed: dict[str, str] = {}  # task → its commit on main (merge landing)
        self.main_merges: dict[str, int] = {}  # task → times merged into main; must be 1
        # The risk tier and path classes an assessment finds per task (default: low, none),
        # and the assessments made (task, head), repeats included.
        self.risk: dict[str, str] = {}
        self.path_classes: dict[str, tuple[str, ...]] = {}
        self.assessed: list[tuple[str, str]] = []
        self._sha = 0
        self._pr_number = 0
        self._thread = 0

    def new_sha(self) -> str:
        self._sha += 1
        return f"{self._sha:040x}"

    def view(self, task: str) -> PRView:
        pr = self.prs[task]
        ci = self.ci.get(pr.head, CIStatus.NONE)
        return PRView(
            number=pr.number,
            state=pr.state,
            draft=pr.draft,
            base=pr.base,
            head_sha=pr.head,
            ci=ci,
            ci_evidence=self.ci_evidence.get(pr.head, "") if ci is CIStatus.FAILED else "",
            mergeable=pr.mergeable if pr.state == "open" else None,
            threads=tuple(pr.threads),
            merge_sha=pr.merge_sha,
            url=f"sim://pr/{pr.number}",
        )

    def complete_ci(self, head: str, task: str, *, passed: bool) -> None:
        self.ci_due.pop(head, None)
        self.ci[head] = CIStatus.PASSED if passed else CIStatus.FAILED
        if not passed:
            self.ci_evidence[head] = f"FAILED tests/test_{task}.py::test_it on {head[:7]}"

    def add_thread(self, task: str, body: str = "please rename this", path: str = "") -> str:
        self._thread += 1
        thread = ReviewThread(
            id=f"t{self._thread}", body=body, author="reviewer", path=path or None
        )
        self.prs[task].threads.append(thread)
        return thread.id

    def make_conflicting(self, task: str) -> None:
        """Someone else lands on main in a way that conflicts with the task's PR."""
        self.tips[self.main] = self.new_sha()
        self.prs[task].mergeable = False
        self.needs_rebase.add(task)

    def merge_on_forge(self, task: str) -> str:
        """A human merges the task's PR on the forge, behind plait's back."""
        pr = self.prs[task]
        if pr.state != "merged":
            self._merge(pr)
        return pr.merge_sha

    def apply(self, effect: fx.Effect, outcome: Outcome, now: float) -> ev.Event:
        """Do `effect` (with `outcome`) at time `now`; returns the result event."""
        self.now = now
        base = self._result(effect)
        if isinstance(effect, fx.Notify):
            self.notified.append(effect)
            return ev.NotificationSent(**base, ok=outcome != "fail")
        if isinstance(effect, fx.RunAgent):
            return self._agent(effect, outcome)
        if isinstance(effect, fx.RunReviewer):
            return self._review(effect, outcome)
        if isinstance(effect, fx.MergeToMain) and outcome in ("behind", "ci"):
            return ev.MergeRefused(**base, why=outcome, evidence=f"simulated {outcome}")
        if outcome == "held":
            return ev.StepFailed(**base, error=HELD_ERROR, held=True)
        if outcome in ("fail", "fatal", "session") or (
            outcome == "conflict" and not isinstance(effect, fx.Rebase)
        ):
            return ev.StepFailed(**base, error="simulated failure", retryable=outcome != "fatal")
        if isinstance(effect, fx.PrepareWorkspace):
            return self._workspace(effect)
        if isinstance(effect, fx.Push):
            return self._push(effect)
        if isinstance(effect, fx.OpenPR):
            return self._open_pr(effect)
        if isinstance(effect, fx.Rebase):
            return self._rebase(effect, outcome)
        if isinstance(effect, fx.Merge):
            return self._merge_effect(effect)
        if isinstance(effect, fx.MergeToMain):
            return self._merge_to_main(effect)
        if isinstance(effect, fx.AssessRisk):
            return self._assess(effect)
        if isinstance(effect, fx.Cleanup):
            self._cleanup(effect)
        elif isinstance(effect, fx.Discard):
            self._discard(effect)
        elif isinstance(effect, fx.MarkReady | fx.Retarget | fx.ResolveThreads):
            self._pr_step(effect)
        return ev.StepDone(**base)

    def _result(self, effect: fx.Effect) -> _Result:
        return {"at": self.now, "effect_id": effect.id, "task": effect.task}

    def _tip(self, branch: str) -> str:
        if branch in self.deleted or branch not in self.tips:
            raise SimViolation(f"branch {branch!r} does not exist")
        return self.tips[branch]

    def _live_worktree(self, task: str, path: str) -> None:
        if not path or path in self.removed:
            raise SimViolation(f"{task}: worktree {path!r} does not exist")

    def _workspace(self, e: fx.PrepareWorkspace) -> ev.Event:
        if e.cwd:  # a mission in a directory of its own: nothing to create
            self.removed.discard(e.cwd)
            self.commits[e.task] = 0
            return ev.WorkspaceReady(
                at=self.now, effect_id=e.id, task=e.task, path=e.cwd, base_sha=""
            )
        tip = self._tip(e.base_branch)
        path = f"/sim/worktrees/{e.task}"
        if path in self.removed or e.task not in self.worktrees:
            self.removed.discard(path)
            self.worktrees[e.task] = tip
            self.wt_base[e.task] = tip
            self.commits[e.task] = 0
        base = self.wt_base[e.task]
        return ev.WorkspaceReady(at=self.now, effect_id=e.id, task=e.task, path=path, base_sha=base)

    def _agent(self, e: fx.RunAgent, outcome: Outcome) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        common = self._result(e)
        usage = Usage(input_tokens=1000, output_tokens=200, cost_usd=0.01)
        seconds = self.agent_seconds
        if outcome not in ("ok", "nochange", "skip", "tickets"):
            failure = {"session": "session", "killed": "killed"}.get(outcome, "crash")
            return ev.AgentFinished(
                **common, ok=False, usage=usage, seconds=seconds, failure=failure,
                error=f"simulated {failure}", session_id=e.session_id,
                exit_code=None if outcome == "killed" else 1,
            )  # fmt: skip
        if outcome in ("ok", "tickets") and e.launch is not None and e.launch.in_place:
            self.worktrees.setdefault(e.task, "")  # no git: nothing to commit
        elif outcome in ("ok", "tickets"):
            if e.turn.kind == "conflict" and e.turn.onto:
                self.wt_base[e.task] = self._tip(e.turn.onto)
                if e.turn.onto == self.main:
                    self.needs_rebase.discard(e.task)
            self.worktrees[e.task] = self.new_sha()
            self.commits[e.task] = self.commits.get(e.task, 0) + 1
        return ev.AgentFinished(
            **common,
            ok=True,
            session_id=e.session_id or f"session-{e.task}",
            usage=usage,
            seconds=seconds,
            reply=f"{e.turn.kind} done",
            commits_ahead=self.commits.get(e.task, 0),
            head_sha=self.worktrees[e.task],
            exit_code=0,
            nothing_to_do="nothing needed" if outcome == "skip" else "",
            tickets_only=outcome == "tickets",
        )

    def _review(self, e: fx.RunReviewer, outcome: Outcome) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        common = self._result(e)
        usage = Usage(input_tokens=500, output_tokens=100, cost_usd=0.005)
        if outcome in ("fail", "fatal", "session", "killed"):
            return ev.Reviewed(**common, ok=False, agent=e.agent, failure="crash", error="boom")
        if outcome in ("reject", "reject_unheard"):
            issues = (f"{e.task}: add a test", f"{e.task}: name it well")
            return ev.Reviewed(**common, ok=True, approved=False, issues=issues, agent=e.agent,
                               usage=usage, seconds=10.0,
                               comes_back=outcome == "reject")  # fmt: skip
        return ev.Reviewed(
            **common, ok=True, approved=True, agent=e.agent, usage=usage, seconds=10.0
        )

    def _assess(self, e: fx.AssessRisk) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        self.assessed.append((e.task, e.head_sha))
        tier = self.risk.get(e.task, "low") if e.rules is not None else ""
        classes = tuple(c for c in self.path_classes.get(e.task, ()) if c in e.classes)
        return ev.RiskAssessed(**self._result(e), head_sha=e.head_sha, tier=tier, classes=classes)

    def _merge_to_main(self, e: fx.MergeToMain) -> ev.Event:
        common = self._result(e)
        if e.task not in self.landed:
            self._live_worktree(e.task, e.worktree)
            if self.wt_base.get(e.task) != self._tip(e.main):
                return ev.MergeRefused(**common, why="behind", main_sha=self._tip(e.main))
            sha = self.new_sha()
            self.tips[e.main] = sha
            self.landed[e.task] = sha
            self.main_merges[e.task] = self.main_merges.get(e.task, 0) + 1
        return ev.Merged(**common, sha=self.landed[e.task])

    def _push(self, e: fx.Push) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        head = self.worktrees[e.task]
        self.tips[e.branch] = head
        self.deleted.discard(e.branch)
        if head not in self.ci:
            self.ci[head] = CIStatus.PENDING
            self.ci_due[head] = (self.now + self.ci_seconds, e.task)
        pr = self.prs.get(e.task)
        if pr is not None and pr.state == "open":
            pr.head = head
            if e.task not in self.needs_rebase:
                pr.mergeable = True
        return ev.Pushed(at=self.now, effect_id=e.id, task=e.task, head_sha=head)

    def _open_pr(self, e: fx.OpenPR) -> ev.Event:
        self._tip(e.base)
        pr = self.prs.get(e.task)
        if pr is None or pr.state != "open" or pr.branch != e.branch:
            self._pr_number += 1
            pr = SimPR(
                number=self._pr_number,
                task=e.task,
                branch=e.branch,
                base=e.base,
                head=self._tip(e.branch),
            )
            self.prs[e.task] = pr
        url = f"sim://pr/{pr.number}"
        return ev.PROpened(at=self.now, effect_id=e.id, task=e.task, number=pr.number, url=url)

    def _pr(self, task: str, number: int) -> SimPR:
        pr = self.prs.get(task)
        if pr is None or pr.number != number:
            raise SimViolation(f"{task}: no PR #{number}")
        return pr

    def _pr_step(self, e: fx.MarkReady | fx.Retarget | fx.ResolveThreads) -> None:
        pr = self._pr(e.task, e.pr)
        if isinstance(e, fx.MarkReady):
            pr.draft = False
        elif isinstance(e, fx.Retarget):
            self._tip(e.base)
            pr.base = e.base
        else:
            pr.threads = [t for t in pr.threads if t.id not in e.thread_ids]

    def _rebase(self, e: fx.Rebase, outcome: Outcome) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        tip = self._tip(e.onto)
        common = self._result(e)
        if outcome == "conflict":
            return ev.RebaseConflict(**common, paths=(f"src/{e.task}.py",), onto_sha=tip)
        if self.wt_base.get(e.task) != tip:
            self.worktrees[e.task] = self.new_sha()
            self.wt_base[e.task] = tip
        if e.onto == self.main:
            self.needs_rebase.discard(e.task)
        return ev.Rebased(**common, head_sha=self.worktrees[e.task], base_sha=tip)

    def _merge_effect(self, e: fx.Merge) -> ev.Event:
        pr = self._pr(e.task, e.pr)
        common = self._result(e)
        if pr.state != "merged":
            if pr.draft or self.ci.get(pr.head) is not CIStatus.PASSED:
                raise SimViolation(f"{e.task}: merge of a draft or red PR #{pr.number}")
            if pr.base != self.main:
                raise SimViolation(f"{e.task}: merge of PR #{pr.number} into {pr.base}")
            if pr.threads or not pr.mergeable:
                return ev.StepFailed(**common, error="not mergeable", retryable=True)
            self._merge(pr)
        return ev.Merged(**common, sha=pr.merge_sha)

    def _merge(self, pr: SimPR) -> None:
        sha = self.new_sha()
        self.tips[pr.base] = sha
        pr.state, pr.merge_sha, pr.merges = "merged", sha, pr.merges + 1

    def _cleanup(self, e: fx.Cleanup) -> None:
        for pr in self.prs.values():
            if pr.state == "open" and pr.base == e.branch:
                raise SimViolation(f"{e.task}: deleting {e.branch}, the base of PR #{pr.number}")
        self.removed.add(e.worktree)
        if not e.keep:
            self.deleted.add(e.branch)

    def _discard(self, e: fx.Discard) -> None:
        pr = self.prs.get(e.task)
        if pr is not None and pr.number == e.pr and pr.state == "open":
            pr.state = "closed"
        for other in self.prs.values():
            if other.state == "open" and other.base == e.branch:
                raise SimViolation(
                    f"{e.task}: discarding {e.branch}, the base of PR #{other.number}"
                )
        if e.worktree:
            self.removed.add(e.worktree)
        self.worktrees.pop(e.task, None)
        self.commits.pop(e.task, None)
        self.deleted.add(e.branch)
        self.tips.pop(e.branch, None)
