"""edgekit: PaddleClas mobile models → PaddleSlim int8 → Paddle Lite .nb → latency on a phone.

Importing the package is cheap on purpose: heavy libraries (paddle, paddleslim, paddlelite)
are imported by the stage modules that need them, never here.
"""

__version__ = "0.1.0"
