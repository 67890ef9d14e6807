"""The command-line tools the APK build drives, found on PATH, each with the Debian package
that provides it, and one way to run them that turns a failure into a ToolError.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from edgekit.errors import MissingDependencyError, ToolError

TOOL_TIMEOUT_S = 600.0


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    debian_package: str
    purpose: str


# Debian bookworm packages; android.jar and dx are not in bookworm (see edgekit.app.platform).
TOOLS = {
    "aapt": Tool("aapt", "aapt", "packages the manifest, resources and assets"),
    "javac": Tool("javac", "openjdk-17-jdk-headless", "compiles the app's Java sources"),
    "java": Tool("java", "openjdk-17-jdk-headless", "runs dx"),
    "keytool": Tool("keytool", "openjdk-17-jdk-headless", "makes the debug signing key"),
    "zipalign": Tool("zipalign", "zipalign", "aligns the APK's uncompressed entries"),
    "apksigner": Tool("apksigner", "apksigner", "signs the APK (v1 + v2 schemes)"),
    "dexdump": Tool("dexdump", "dexdump", "lists the classes in classes.dex"),
    "apt-get": Tool("apt-get", "apt", "downloads android.jar and dx from Debian bullseye"),
    "dpkg-deb": Tool("dpkg-deb", "dpkg", "unpacks the downloaded .deb files"),
}

BUILD_TOOLS = ("aapt", "javac", "java", "keytool", "zipalign", "apksigner")


def find_tool(name: str) -> Path:
    """The tool on PATH, or MissingDependencyError naming the Debian package to install."""
    tool = TOOLS[name]
    found = shutil.which(name)
    if found is None:
        raise MissingDependencyError(f"{name} not found on PATH ({tool.purpose}); install the Debian package "
                                     f"{tool.debian_package}: apt-get install {tool.debian_package}")
    return Path(found)


def find_tools(names: Sequence[str]) -> dict[str, Path]:
    """Every tool of ``names``; the error names all missing ones and their packages at once."""
    missing = [TOOLS[n] for n in names if shutil.which(n) is None]
    if missing:
        listed = ", ".join(f"{t.name} (package {t.debian_package})" for t in missing)
        packages = " ".join(sorted({t.debian_package for t in missing}))
        raise MissingDependencyError(f"missing tools for the APK build: {listed}; "
                                     f"install them with: apt-get install {packages}")
    return {n: find_tool(n) for n in names}


def run_tool(command: Sequence[str | Path], *, what: str, cwd: Optional[Path] = None,
             timeout: float = TOOL_TIMEOUT_S, env: Optional[dict] = None) -> str:
    """Run a tool; its stdout on success, ToolError quoting its last output lines otherwise."""
    argv = [str(part) for part in command]
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{what}: {Path(argv[0]).name} ran past {timeout:.0f} s") from None
    except OSError as e:
        raise ToolError(f"{what}: cannot run {argv[0]}: {e.strerror or e}") from None
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        quoted = " | ".join(line.strip() for line in output[-6:] if line.strip()) or "no output"
        raise ToolError(f"{what}: {Path(argv[0]).name} exited {proc.returncode}: {quoted}")
    return proc.stdout
