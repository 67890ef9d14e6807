"""Child-process entry points for tools that can take the interpreter down or change its global
state (Paddle Lite's opt and runtime, X2Paddle): ``python -m edgekit._workers.opt``,
``python -m edgekit._workers.lite_run`` and ``python -m edgekit._workers.x2paddle``.

The parent side is ``edgekit._workers.runner.run_worker``. This package file stays empty so a
child process imports nothing it does not run (its start-up is part of every conversion).
"""
