"""Exit codes of the `plait` command, in one place.

0 done (every task landed / the command succeeded), 1 an error in plait itself, 2 bad
usage or a command that does not apply, 3 invalid plan, 4 git problem, 5 project problem,
6 agent problem, 7 forge problem, 8 executor problem (Temporal); 10 tasks need attention,
11 a task is stopped, 124 a wait timed out, 130 stopped before its tasks settled (a signal,
or quitting a TUI that hosts the engine: the same interrupted run, `plait resume` goes on).
"""

OK = 0
NOT_YET = 2  # `plait result` of a task that has not finished: it does not apply yet
ATTENTION = 10
STOPPED_TASK = 11
TIMEOUT = 124
INTERRUPTED = 130
