"""edgekit's exceptions: one root, a few specific kinds, each with its CLI exit code.

Library code raises these; only the CLI turns them into a one-line message and an exit code.
"""

from __future__ import annotations


class EdgekitError(Exception):
    """Root of every error edgekit raises on purpose."""

    exit_code = 1


class UsageError(EdgekitError):
    """The user asked for something that cannot be: bad name, bad option, bad input file."""

    exit_code = 2


class UnknownModelError(UsageError):
    def __init__(self, name: str, close_matches: list[str]):
        hint = f"; did you mean {', '.join(close_matches)}?" if close_matches else ""
        super().__init__(f"unknown model {name!r}{hint} (edgekit models lists them)")
        self.name = name
        self.close_matches = close_matches


class InvalidInputError(UsageError):
    """An input file or folder is missing, empty, unreadable or of the wrong format."""


class WeightsError(UsageError):
    """Pretrained weights could not be found, downloaded, verified or loaded."""


class ConfigError(UsageError):
    """A preset, target or device profile in opt_configs/ is unknown or malformed."""


class MissingDependencyError(EdgekitError):
    """An external tool or library that this command needs is not installed."""

    exit_code = 3


class ToolError(EdgekitError):
    """An external tool (opt, PaddleSlim, the benchmark binary, the Android SDK tools) failed."""

    exit_code = 4


class ConversionError(ToolError):
    """Paddle Lite opt failed or crashed."""


class OnnxConversionError(ConversionError):
    """X2Paddle could not convert an ONNX model, or its result disagreed with onnxruntime."""


class QuantizationError(ToolError):
    """PaddleSlim post-training quantization failed."""


class RuntimeCrashError(ToolError):
    """A model run in a child process crashed (signal) or returned no result."""


class BenchmarkError(ToolError):
    """The benchmark binary ran but printed no timing, or its output could not be read."""


class DeviceError(EdgekitError):
    """Talking to a device (or the adb server) failed."""

    exit_code = 5


class DeviceNotFoundError(DeviceError):
    """No device, or more than one, matches the selection."""


class DeviceLostError(DeviceError):
    """The device disappeared while edgekit was using it."""


class DeviceTimeoutError(DeviceError):
    """A command on the device ran past its time limit."""


class DeviceBusyError(DeviceError):
    """Another run holds the device's lock (edgekit.device.lock)."""
