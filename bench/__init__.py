"""plait's benchmarks (bench/README.md): `python -m bench [P1 P2 …] [--json] [--quick]`.

Each benchmark module has `run(quick: bool) -> Report`. Figures are compared against the
goals in bench/README.md; where timing is involved the verdict rests on ratios measured in the
same run, except where bench/README.md itself states an absolute goal (printed, never asserted
in tests).
"""
