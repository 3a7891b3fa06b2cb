"""Every GraphQL document plait sends to GitHub.

Constants, plus `poll_query(n)`: the batched read of n PRs (aliases `pr0`…`pr{n-1}`, one
`$nK: Int!` variable each). A test finds every document here and every `.graphql(…)` call
in plait, and validates what they send against GitHub's published schema: send only
documents defined in this module. Connection sizes are chosen for cost: GitHub charges
roughly (sum of connection `first`s × parents) / 100 points per query.
"""

from __future__ import annotations

MAX_BATCH = 50  # PRs per batched poll query

RATE = "rateLimit { cost limit remaining resetAt }"

CHECK_FIELDS = """
fragment CheckFields on StatusCheckRollupContext {
  __typename
  ... on CheckRun {
    id databaseId name status conclusion title summary detailsUrl
    checkSuite { app { slug } }
  }
  ... on StatusContext { id context state description targetUrl }
}
"""

THREAD_FIELDS = """
fragment ThreadFields on PullRequestReviewThread {
  id isResolved isOutdated path line originalLine
  comments(first: 20) {
    pageInfo { hasNextPage endCursor }
    nodes { id body author { login } }
  }
}
"""

PR_FIELDS = (
    """
fragment PRFields on PullRequest {
  id number state isDraft mergeable mergeStateStatus reviewDecision url
  headRefName headRefOid baseRefName
  mergeCommit { oid }
  commits(last: 1) {
    nodes { commit { oid statusCheckRollup { state
      contexts(first: 100) { pageInfo { hasNextPage endCursor } nodes { ...CheckFields } }
    } } }
  }
  reviewThreads(first: 25) { pageInfo { hasNextPage endCursor } nodes { ...ThreadFields } }
  latestOpinionatedReviews(first: 50) {
    nodes { id databaseId state body author { login } commit { oid } }
  }
}
"""
    + CHECK_FIELDS
    + THREAD_FIELDS
)


def poll_query(n: int) -> str:
    """The batched read of `n` PRs of one repository (1 ≤ n ≤ MAX_BATCH)."""
    if not 1 <= n <= MAX_BATCH:
        raise ValueError(f"batch size {n} outside 1..{MAX_BATCH}")
    params = "".join(f", $n{i}: Int!" for i in range(n))
    aliases = "\n".join(
        f"    pr{i}: pullRequest(number: $n{i}) {{ ...PRFields }}" for i in range(n)
    )
    return (
        f"query PollPRs($owner: String!, $name: String!{params}) {{\n"
        f"  repository(owner: $owner, name: $name) {{\n{aliases}\n  }}\n  {RATE}\n}}\n" + PR_FIELDS
    )


ROLLUP_PAGE = (
    """
query RollupPage($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      commits(last: 1) { nodes { commit { statusCheckRollup {
        contexts(first: 100, after: $after) {
          pageInfo { hasNextPage endCursor } nodes { ...CheckFields }
        }
      } } } }
    }
  }
  """
    + RATE
    + "\n}\n"
    + CHECK_FIELDS
)

THREADS_PAGE = (
    """
query ThreadsPage($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 25, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { ...ThreadFields }
      }
    }
  }
  """
    + RATE
    + "\n}\n"
    + THREAD_FIELDS
)

THREAD_COMMENTS_PAGE = f"""
query ThreadCommentsPage($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on PullRequestReviewThread {{
      comments(first: 100, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ id body author {{ login }} }}
      }}
    }}
  }}
  {RATE}
}}
"""

CHECK_DETAILS = f"""
query CheckDetails($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on CheckRun {{
      id databaseId name conclusion title summary text detailsUrl
      checkSuite {{ app {{ slug }} }}
      annotations(first: 50) {{
        nodes {{ path message title annotationLevel location {{ start {{ line }} }} }}
      }}
    }}
  }}
  {RATE}
}}
"""

# Before replying: which threads are resolved, and which already carry our marker. The
# marker sits in one of the latest comments, so `last: 100` is enough.
THREADS_STATE = f"""
query ThreadsState($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on PullRequestReviewThread {{
      id isResolved
      comments(last: 100) {{ nodes {{ body }} }}
    }}
  }}
  {RATE}
}}
"""

PR_COMMENTS = f"""
query PRComments($owner: String!, $name: String!, $number: Int!) {{
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{
      id
      comments(last: 100) {{ nodes {{ body }} }}
    }}
  }}
  {RATE}
}}
"""

MERGE_QUEUE = f"""
query MergeQueue($owner: String!, $name: String!, $branch: String!) {{
  repository(owner: $owner, name: $name) {{
    mergeQueue(branch: $branch) {{ id }}
  }}
  {RATE}
}}
"""

ADD_THREAD_REPLY = """
mutation AddThreadReply($thread: ID!, $body: String!) {
  addPullRequestReviewThreadReply(input: {pullRequestReviewThreadId: $thread, body: $body}) {
    comment { id }
  }
}
"""

RESOLVE_THREAD = """
mutation ResolveThread($thread: ID!) {
  resolveReviewThread(input: {threadId: $thread}) { thread { id isResolved } }
}
"""

MARK_READY = """
mutation MarkReady($pr: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $pr}) { pullRequest { id isDraft } }
}
"""

ENQUEUE = """
mutation Enqueue($pr: ID!, $head: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $pr, expectedHeadOid: $head}) {
    mergeQueueEntry { id position }
  }
}
"""
