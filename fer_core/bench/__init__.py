"""Benchmarks as library code: ``python -m fer_core bench`` and ``benchmarks/*.py`` call these.

Timings here never run in the test suite (only tiny smoke versions do); results go to
docs/benchmarks.md with the command that produced them.

:mod:`fer_core.bench.backends` also keeps the inference backends that were measured against the
shipped TorchScript path and not adopted; nothing on the runtime path imports this package.
"""
