"""A service under tracemalloc, for the soak's `--traced`: `python traced.py crm_customer PREFIX`
runs the service as `python -m crm_customer` does; each SIGUSR1 writes a snapshot of what is
allocated, and where, to PREFIX-<n>.snapshot (tracemalloc's own format, read by the soak)."""

import itertools
import runpy
import signal
import sys
import tracemalloc

FRAMES = 6  # enough to see past the library to the project's line that allocates

module, prefix = sys.argv[1], sys.argv[2]
tracemalloc.start(FRAMES)
numbers = itertools.count(1)


def dump(*_: object) -> None:
    tracemalloc.take_snapshot().dump(f"{prefix}-{next(numbers)}.snapshot")


signal.signal(signal.SIGUSR1, dump)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
