"""The pure core: plans, task state, scheduling and the controller. No I/O in here."""
