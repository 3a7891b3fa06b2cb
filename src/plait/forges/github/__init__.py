"""The GitHub forge: batched, rate-budgeted reads and idempotent writes (see `forge`)."""
