"""kgraph's benchmarks: `python -m benchmarks` (see RESULTS.md for figures and the machine).

Each module has `run(args) -> list[str]` and prints its figures as it goes; timings
are min and median of repeats, and every comparison is a ratio measured in the
same process. Nothing here is asserted in tests: wall-clock times belong here.
"""
