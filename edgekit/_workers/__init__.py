"""Child-process entry points for tools that can take the interpreter down (Paddle Lite's opt and
runtime): ``python -m edgekit._workers.opt`` and ``python -m edgekit._workers.lite_run``.

The parent side is ``edgekit._workers.runner.run_worker``. This package file stays empty so a
child process imports nothing it does not run (its start-up is part of every conversion).
"""
