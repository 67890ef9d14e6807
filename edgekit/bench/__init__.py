"""Benchmarking on devices over adb: ``runner.bench_models`` (the entry point; its doc lists the
modules by concern and the one direction they import in), the output parser (``parse``), the
results store (``results``) and ``imports`` (``results import``). Importing the package is cheap
(the CLI reads the defaults below for its help); the submodules import what they need."""

# The folder under which edgekit works on a device: the one place where adb's shell user may
# write and run programs on every Android phone.
DEVICE_TMP = "/data/local/tmp"
REMOTE_ROOT = f"{DEVICE_TMP}/edgekit"
DEFAULT_TIMEOUT_S = 600.0  # seconds one benchmark run may take
