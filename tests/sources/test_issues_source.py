"""GitHub issues as a live source, against the GitHub double over real HTTP: labelled
issues become PR tasks once, an unchanged list costs no rate point, a closed or unlabelled
issue stops its task, and each task's state shows on its issue as one `plait:` label and
one status comment edited in place — without duplicates across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.api.views import task_row
from plait.core.effects import WriteIssue
from plait.core.events import IssueWritten
from plait.core.model import IssueWrite, Phase, PRView, RunConfig
from plait.forges.github.client import GitHubClient
from plait.forges.github.token import Token
from plait.plans.issues_config import IssuesConfig
from plait.plans.risk import Risk, RiskConfig, classify
from plait.sources import issue_split
from plait.sources.issue_schedules import WORK_ORIGIN, Rule, rule_of
from plait.sources.issue_writer import IssueWriter
from plait.sources.issues import IssueSource, Look
from plait.testing.github_double import GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git
from tests.sources.helpers import Project

OWNER, NAME = "acme", "app"


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "gh", login="plait-bot") as double:
        double.create_repo(OWNER, NAME, {"a.txt": "one\n"})
        yield double


# One event loop for all looks: a client keeps its connections from one look to the next.
LOOP = asyncio.new_event_loop()
_CLIENTS: list[GitHubClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        LOOP.run_until_complete(_CLIENTS.pop().aclose())


def source(gh: GitHubDouble, **cfg: object) -> IssueSource:
    client = GitHubClient(Token("t"), api_url=gh.api_url)
    _CLIENTS.append(client)
    return IssueSource(client, OWNER, NAME, IssuesConfig(**cfg))  # type: ignore[arg-type]


def look(src: IssueSource, project: Project) -> Look:
    return LOOP.run_until_complete(src.look(project.ctx()))


def reflect(src: IssueSource, project: Project) -> list[tuple[int, str]]:
    return LOOP.run_until_complete(src.reflect(project.ctx()))


def recover(src: IssueSource, project: Project) -> list[str]:
    return LOOP.run_until_complete(src.recover(project.ctx()))


def labels(gh: GitHubDouble, number: int) -> list[str]:
    return list(gh.issue(OWNER, NAME, number).labels)


def test_labelled_issues_become_pr_tasks_with_the_issue_as_context(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix login", "It breaks on Safari.", labels=["plait"])
    gh.create_issue(OWNER, NAME, "Not for the bot")
    gh.create_issue(OWNER, NAME, "Later", labels=["plait", "wontfix"])
    gh.add_issue_comment(OWNER, NAME, 1, "Also on Firefox.", author="ann")
    project = Project(tmp_path)
    found = look(source(gh, exclude=("wontfix",)), project)
    assert found.added == ("issue-1",)
    spec = project.state.specs["issue-1"]
    assert (spec.title, spec.landing, spec.origin) == ("Fix login", "pr", "github-issue")
    assert spec.description.endswith("Closes #1")
    context = project.state.contexts[spec.plan]
    assert "It breaks on Safari." in context
    assert "@ann: Also on Firefox." in context


def test_an_unchanged_issue_list_costs_no_rate_point_and_adds_nothing_twice(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "One", labels=["plait"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    used = gh.world.core.used
    again = look(src, project)
    assert (again.not_modified, again.added, gh.world.core.used) == (True, (), used)
    # A new engine (no ETag cached, same store): reads again, adds nothing twice.
    assert look(source(gh), project).added == ()
    assert len(project.events) == 1


def test_a_burst_is_added_a_few_per_look(gh: GitHubDouble, tmp_path: Path) -> None:
    for i in range(5):
        gh.create_issue(OWNER, NAME, f"Issue {i}", labels=["plait"])
    project, src = Project(tmp_path), source(gh, launches_per_poll=2)
    added = [look(src, project).added for _ in range(4)]
    assert added == [("issue-1", "issue-2"), ("issue-3", "issue-4"), ("issue-5",), ()]


def test_closing_or_unlabelling_the_issue_stops_its_task_but_a_merge_does_not(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    for title in ("closed", "unlabelled", "merged", "kept"):
        gh.create_issue(OWNER, NAME, title, labels=["plait"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    project.set_task("issue-3", pr=PRView(number=9, state="merged"))
    gh.close_issue(OWNER, NAME, 1)
    gh.unlabel(OWNER, NAME, 2, "plait")
    gh.close_issue(OWNER, NAME, 3)
    assert look(src, project).stopped == ("issue-1", "issue-2")
    assert [bool(project.state.tasks[f"issue-{n}"].stopped) for n in (1, 2, 3, 4)] == [
        True, True, False, False,
    ]  # fmt: skip
    assert look(src, project).stopped == ()  # a stopped task is not stopped again


def test_state_shows_as_one_label_and_one_comment_edited_in_place(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Busy", labels=["plait"])
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait", "bug"])
    config = RunConfig(project="p", repo=str(tmp_path), max_concurrency=1)
    project, src = Project(tmp_path, config), source(gh)
    look(src, project)  # issue 1 takes the one slot
    assert reflect(src, project) == [(1, "running"), (2, "queued")]
    assert labels(gh, 2) == ["plait", "bug", "plait:queued"]
    used = gh.world.core.used
    assert reflect(src, project) == []  # nothing changed: no request at all
    assert gh.world.core.used == used
    project.set_task("issue-1", phase=Phase.MERGED)
    project.set_task("issue-2", phase=Phase.ACTIVE)
    reflect(src, project)
    assert labels(gh, 2) == ["plait", "bug", "plait:running"]
    project.set_task("issue-2", pr=PRView(number=7))
    reflect(src, project)
    project.set_task("issue-2", phase=Phase.MERGED)
    reflect(src, project)
    comments = gh.issue(OWNER, NAME, 2).comments
    assert labels(gh, 2) == ["plait", "bug", "plait:done"]
    assert len(comments) == 1
    assert "`done`" in comments[0].body
    assert "PR #7" in comments[0].body


def test_a_crash_before_remembering_a_write_repeats_nothing(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait"])
    project = Project(tmp_path)
    look(source(gh), project)
    reflect(source(gh), project)
    # The engine died after GitHub took the label and the comment, before the store
    # remembered them: the next engine looks first and finds both.
    for key in ("1:shown", "1:comment"):
        project.store.set_meta(f"source:issues:{key}", "")
    again = source(gh)
    look(again, project)
    assert reflect(again, project) == [(1, "running")]
    assert labels(gh, 1) == ["plait", "plait:running"]
    assert len(gh.issue(OWNER, NAME, 1).comments) == 1


def test_a_stopped_task_loses_its_status_label_and_says_why(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    reflect(src, project)
    gh.close_issue(OWNER, NAME, 1)
    look(src, project)
    reflect(src, project)
    (comment,) = gh.issue(OWNER, NAME, 1).comments
    assert labels(gh, 1) == ["plait"]
    assert "`stopped`" in comment.body
    assert "issue #1 was closed" in comment.body


def test_a_blocked_task_is_retried_after_each_rung_of_the_cooldown_ladder(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait"])
    project, src = Project(tmp_path), source(gh, cooldowns=(3600.0, 14400.0))
    look(src, project)
    tried: list[tuple[float, list[str]]] = []
    for rung in (3600.0, 14400.0, 86400.0):
        project.set_task("issue-1", failed="the agent gave up")
        start = project.now
        recover(src, project)  # found blocked now: the rung counts from here
        project.now = start + rung - 1
        early = recover(src, project)
        project.now = start + rung
        tried.append((rung, [*early, *recover(src, project)]))
        project.now += 1
    assert tried == [(3600.0, ["issue-1"]), (14400.0, ["issue-1"]), (86400.0, [])]
    assert project.state.tasks["issue-1"].failed == "the agent gave up"  # past the ladder


def test_a_hold_label_keeps_a_blocked_task_for_a_person(gh: GitHubDouble, tmp_path: Path) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait", "plait:hold"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    project.set_task("issue-1", failed="x")
    recover(src, project)
    project.now += 10 * 86400
    assert recover(src, project) == []
    gh.unlabel(OWNER, NAME, 1, "plait:hold")
    look(src, project)
    assert recover(src, project) == ["issue-1"]
    assert project.state.tasks["issue-1"].failed == ""


def test_the_ladder_survives_a_restart(gh: GitHubDouble, tmp_path: Path) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait"])
    project = Project(tmp_path)
    look(source(gh), project)
    project.set_task("issue-1", failed="x")
    recover(source(gh), project)
    project.now += 3600
    assert recover(source(gh), project) == ["issue-1"]  # a new engine: the store remembers
    project.set_task("issue-1", failed="x")
    recover(source(gh), project)
    project.now += 3600
    assert recover(source(gh), project) == []  # the second rung is 4 h


def check(src: IssueSource, project: Project) -> list[str]:
    return LOOP.run_until_complete(src.check(project.ctx()))


def report(src: IssueSource, project: Project) -> list[str]:
    return LOOP.run_until_complete(src.report(project.ctx()))


def test_a_scheduled_issue_gets_one_check_per_due_time_across_a_restart(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Audit deps", "Look for CVEs.\n\nSchedule: every 6h",
                    labels=["plait"])  # fmt: skip
    project, src = Project(tmp_path), source(gh)
    project.now = 1_000_000.0
    assert look(src, project).added == ()  # a recurring check, not a change to make
    assert check(src, project) == []  # the interval counts from now
    project.now += 6 * 3600
    (first,) = check(src, project)
    assert check(src, project) == []
    # The engine died after submitting the run, before remembering its due time.
    project.store.set_meta("source:issues:1:last_due", "")
    again = source(gh)
    look(again, project)
    assert check(again, project) == []  # the run of that due time exists
    project.now += 13 * 3600  # two due times passed while nobody looked: one run
    (second,) = check(again, project)
    spec = project.state.specs[first]
    assert (spec.landing, spec.origin, first, second) == (
        "none", "github-issue-schedule", "issue-1-19700112-194640", "issue-1-19700113-074640",
    )  # fmt: skip


def _finished_check(
    gh: GitHubDouble, tmp_path: Path, schedule: str, wait: float, answer: str
) -> tuple[Project, str]:
    """A scheduled issue's check run and done with `answer`, reported twice (the second
    time by a new engine, as after a crash before the report was remembered)."""
    gh.create_issue(OWNER, NAME, "Audit", schedule, labels=["plait"])
    project, src = Project(tmp_path), source(gh)
    project.now = 1_000_000.0
    look(src, project)
    check(src, project)
    project.now += wait
    (tid,) = check(src, project)
    project.set_task(tid, phase=Phase.MERGED, last_reply=answer)
    assert report(src, project) == [tid]
    project.store.set_meta(f"source:issues:report:{tid}", "")  # a crash before remembering
    assert report(source(gh), project) == [tid]
    return project, tid


def test_a_finished_check_reports_once_on_the_issue_which_stays_open(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    _finished_check(gh, tmp_path, "Schedule: cron 0 3 * * *", 86400, "No new CVEs.")
    issue = gh.issue(OWNER, NAME, 1)
    assert [c.body.splitlines()[2] for c in issue.comments] == ["No new CVEs."]
    assert issue.state == "open"
    assert issue.labels == ["plait"]


def test_work_a_check_finds_becomes_a_task_that_opens_a_pr_once(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    answer = (
        "lodash is vulnerable.\n\n```plait-tasks\n"
        '[{"id": "bump", "summary": "Bump lodash", "description": "To 4.17.21."},'
        ' {"summary": "Add an audit job", "dependencies": ["bump"]}]\n```\n'
    )
    project, tid = _finished_check(gh, tmp_path, "Schedule: every 6h", 6 * 3600, answer)
    assert "plait-tasks" in project.state.specs[tid].description  # the agent is told how
    work = [s for s in project.state.specs.values() if s.origin == WORK_ORIGIN]
    assert [(w.id, w.title, w.landing, w.depends_on) for w in work] == [
        (f"{tid}-w1", "Bump lodash", "pr", ()),
        (f"{tid}-w2", "Add an audit job", "pr", (f"{tid}-w1",)),
    ]
    assert work[0].description.endswith("Refs #1")  # the issue stays open after the PR
    (comment,) = gh.issue(OWNER, NAME, 1).comments
    assert f"plait opened task(s) for the work found: `{tid}-w1`, `{tid}-w2`" in comment.body


def split(src: IssueSource, project: Project) -> list[str]:
    return LOOP.run_until_complete(src.split(project.ctx()))


def test_an_agent_splits_an_issue_into_follow_ups_opened_once_labelled_and_linked(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Rewrite the CLI", "All of it.", labels=["plait"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    assert "plait-issues" in project.state.contexts["issue-1"]  # the agent is told how
    answer = (
        "Did the parser.\n\n```plait-issues\n"
        '[{"title": "Rewrite the help", "body": "Every command."},'
        ' {"title": "Rewrite the errors"}, {"body": "no title: left out"}]\n```\n'
    )
    project.set_task("issue-1", last_reply=answer)
    help_key = issue_split.key("issue-1", "Rewrite the help")
    assert split(src, project) == [help_key, issue_split.key("issue-1", "Rewrite the errors")]
    assert split(src, project) == []  # remembered
    # A crash after creating them, before remembering: the asked write finds its marker.
    project.store.set_meta(f"source:issues:split:{help_key}", "")
    again = source(gh)
    look(again, project)
    assert split(again, project) == [help_key]
    assert [r.number for r in project.results] == [2, 3, 2]  # type: ignore[attr-defined]
    follow_up = gh.issue(OWNER, NAME, 2)
    assert follow_up.title == "Rewrite the help"
    assert "Every command.\n\nSplit from #1 by plait." in follow_up.body
    assert follow_up.labels == ["plait"]
    assert [i.number for i in gh.issues(OWNER, NAME)] == [1, 2, 3]
    assert {"issue-2", "issue-3"} <= set(project.state.specs)  # each is a task of its own


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("Schedule: cron 0 3 * * 1", Rule(cron="0 3 * * 1")),
        ("Checks.\n**Schedule:** every 6h\nmore", Rule(every=21600.0)),
        ("schedule: every 30 minutes", Rule(every=1800.0)),
        ("Schedule: cron nonsense", None),
        ("Schedule: every 0h", None),
        ("We should schedule: every day", None),
    ],
)
def test_the_schedule_line_of_an_issue(body: str, rule: Rule | None) -> None:
    assert rule_of(body) == rule


def test_a_label_naming_a_class_puts_the_issue_under_its_cap_and_ps_says_why_it_waits(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    for title in ("migrate users", "migrate orders", "fix typo"):
        extra = ["Heavy"] if title.startswith("migrate") else []
        gh.create_issue(OWNER, NAME, title, labels=["plait", *extra])
    config = RunConfig(project="p", repo=str(tmp_path), max_concurrency=3,
                       class_caps={"HEAVY": 1})  # fmt: skip
    project = Project(tmp_path, config)
    look(source(gh), project)
    rows = {r["id"]: r for r in (task_row(project.state, t) for t in project.state.tasks.values())}
    assert project.state.specs["issue-1"].task_class == "HEAVY"
    assert [rows[f"issue-{n}"]["status"] for n in (1, 2, 3)] == ["starting", "waiting", "starting"]
    assert rows["issue-2"]["waits_for"] == "class HEAVY at its cap (1 of 1 running)"
    assert rows["issue-1"]["waits_for"] is None


def test_the_implementation_lanes_cap_holds_issues_a_class_label_does_not_claim(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    for title in ("one", "two", "heavy"):
        gh.create_issue(
            OWNER, NAME, title, labels=["plait", *(["heavy"] if title == "heavy" else [])]
        )
    config = RunConfig(project="p", repo=str(tmp_path), max_concurrency=5,
                       class_caps={"issues-implement": 1, "heavy": 1})  # fmt: skip
    project = Project(tmp_path, config)
    look(source(gh), project)
    classes = [project.state.specs[f"issue-{n}"].task_class for n in (1, 2, 3)]
    assert classes == ["issues-implement", "issues-implement", "heavy"]
    rows = {r["id"]: r for r in (task_row(project.state, t) for t in project.state.tasks.values())}
    assert [rows[f"issue-{n}"]["status"] for n in (1, 2, 3)] == ["starting", "waiting", "starting"]
    assert rows["issue-2"]["waits_for"] == "class issues-implement at its cap (1 of 1 running)"


def _pr_touching(gh: GitHubDouble, tmp_path: Path, branch: str, files: dict[str, str]) -> PRView:
    """A branch pushed to the double from a clone, and its PR (plait's, as the task's)."""
    clone = tmp_path / f"clone-{branch}"
    run_git("clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone), cwd=tmp_path)
    repo = GitRepo(clone)
    repo.git("checkout", "-q", "-b", branch)
    sha = repo.commit(files, "work")
    repo.git("push", "-q", "origin", branch)
    pr = gh.open_pr(OWNER, NAME, head=branch, author="plait-bot")
    return PRView(number=pr.number, head_sha=sha, draft=False)


def test_the_status_comment_shows_the_tier_the_core_recorded(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Add a column", labels=["plait"])
    project = Project(tmp_path)
    src = source(gh)
    look(src, project)
    pr = _pr_touching(gh, tmp_path, "col", {"migrations/002_add.sql": "ALTER …\n"})
    project.set_task("issue-1", phase=Phase.ACTIVE, pr=pr, current=None, head_sha=pr.head_sha,
                     risk="human", risk_reason="touches migrations/002_add.sql",
                     risk_head=pr.head_sha)  # fmt: skip
    reflect(src, project)
    (comment,) = gh.issue(OWNER, NAME, 1).comments
    assert "risk: human (touches migrations/002_add.sql)" in comment.body


@pytest.mark.parametrize(
    ("files", "tier"),
    [
        ([("src/a.py", 10)], Risk("low")),
        ([("db/migrations/1.sql", 1)], Risk("human", "touches db/migrations/1.sql")),
        ([(f"f{i}.py", 1) for i in range(21)], Risk("human", "21 files (more than 20)")),
        ([("src/a.py", 900)], Risk("human", "900 changed lines (more than 800)")),
        ([("src/auth/login.py", 3)], Risk("double-check", "touches src/auth/login.py")),
    ],
)
def test_risk_tiers_from_paths_and_size(files: list[tuple[str, int]], tier: Risk) -> None:
    cfg = RiskConfig(human=("*migrations/*",), double_check=("src/auth/**",), max_files=20,
                     max_lines=800)  # fmt: skip
    assert classify(files, cfg) == tier


def test_a_burst_of_30_issues_respects_the_launch_cap_and_the_rate_reserve(
    tmp_path: Path,
) -> None:
    with GitHubDouble(root=tmp_path / "gh", login="plait-bot", core_limit=120) as gh:
        gh.create_repo(OWNER, NAME, {"a.txt": "one\n"})
        for i in range(30):
            gh.create_issue(OWNER, NAME, f"Issue {i}", labels=["plait"])
        config = RunConfig(project="p", repo=str(tmp_path), max_concurrency=3)
        project, src = Project(tmp_path, config), source(gh, launches_per_poll=5)
        reserve = int(120 * 0.2)
        added: list[int] = []
        for _ in range(12):
            added.append(len(look(src, project).added))
            reflect(src, project)
            assert gh.world.core.remaining >= reserve
            busy = [t for t in project.state.tasks.values() if t.phase is not Phase.WAITING]
            assert len(busy) <= 3
        assert max(added) == 5
        # The budget ran down to its reserve and the source stopped there, mid-burst.
        assert sum(added) < 30
        assert gh.world.core.remaining < reserve + 8


def test_a_source_closes_the_client_made_for_it_when_the_engine_stops_it(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    project = Project(tmp_path)
    own = IssueSource(GitHubClient(Token("t"), api_url=gh.api_url), OWNER, NAME,
                      IssuesConfig(), owns_client=True)  # fmt: skip
    lent = source(gh)

    async def run_then_stop(src: IssueSource) -> None:
        running = asyncio.ensure_future(src.run(project.ctx()))
        await asyncio.sleep(0.2)  # one look: the client has a connection open
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    for src in (own, lent):
        LOOP.run_until_complete(run_then_stop(src))
    # It was left open when the engine stopped (connections held for the engine's life).
    assert own.client.closed
    assert not lent.client.closed  # a client lent by the caller is the caller's to close


def test_an_asked_write_waits_for_the_rate_reserve_then_goes_out(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait"])
    project = Project(tmp_path)
    slept: list[float] = []

    async def reset(seconds: float) -> None:  # GitHub's reset comes while it waits
        slept.append(seconds)
        gh.set_rate_limit(remaining=100, reset_in=3600)
        await src.client.rest("GET", "/rate_limit")  # free: the budget hears of it

    client = GitHubClient(Token("t"), api_url=gh.api_url)
    _CLIENTS.append(client)
    src = IssueSource(client, OWNER, NAME, IssuesConfig(), sleep=reset)
    project.hold = True  # writes stay in the outbox, as when an engine dies before them
    look(src, project)
    assert reflect(src, project) == [(1, "running")]
    assert len(project.outbox) == 1
    # By the time it is performed (the next engine, say) the budget is at its reserve.
    gh.set_rate_limit(limit=100, remaining=22, reset_in=30)  # 2 points above it
    LOOP.run_until_complete(src.client.rest("GET", "/rate_limit"))
    LOOP.run_until_complete(project.perform_pending())
    assert len(slept) == 1  # it waited for the reset …
    assert slept[0] <= 60
    assert labels(gh, 1) == ["plait", "plait:running"]  # … then wrote
    assert len(gh.issue(OWNER, NAME, 1).comments) == 1


def test_a_write_github_refuses_for_good_ends_with_its_error_instead_of_trying_forever(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    project = Project(tmp_path)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = GitHubClient(Token("t"), api_url=gh.api_url)
    _CLIENTS.append(client)
    writer = IssueWriter(client, project.ctx(), sleep=sleep)
    write = IssueWrite(kind="report", repo=f"{OWNER}/{NAME}", number=99, key="issue-report:x",
                       body="gone")  # fmt: skip
    effect = WriteIssue(id="issue-write/3/report/x", task="issue:acme/app#99", write=write)
    result = LOOP.run_until_complete(writer.perform(effect))
    assert isinstance(result, IssueWritten)
    assert (result.ok, result.error.startswith("#99: "), slept) == (False, True, [])


def test_a_status_write_leaves_the_risk_tier_and_the_other_plait_labels(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.create_issue(OWNER, NAME, "Fix", labels=["plait", "plait:risk-human", "plait:blocked"])
    project, src = Project(tmp_path), source(gh)
    look(src, project)
    assert reflect(src, project) == [(1, "running")]
    assert labels(gh, 1) == ["plait", "plait:risk-human", "plait:running"]
