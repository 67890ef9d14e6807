"""The virtual device's file system: a host folder (the sandbox) that is the device's ``/``.

Two views of it, with different guarantees:

* The **sync service** (push, pull, stat, list) is confined: a device path is resolved inside the
  sandbox, ``..`` that climbs above ``/`` is refused, and so is any path whose symlinks resolve
  outside the sandbox (``SandboxEscape``, answered with FAIL). Nothing it does reads or writes
  outside the sandbox.
* The **shell** runs host commands with /bin/sh (that is the point: the benchmark binary is a
  host program). Device paths under the mapped roots (``/data``, ``/sdcard``, ``/storage``,
  ``/system``, ``/vendor``, ``/proc/cpuinfo``, ``/sys/devices/system/cpu``, ``/sys/class/thermal``,
  and ``/`` alone) are
  rewritten to their sandbox paths in the command text, the working directory is the sandbox
  root, device commands (``getprop``, ``sh``) come first on PATH, and sandbox paths in the
  output are rewritten back.

  A command that names any other absolute path, or a mapped one whose ``..`` climbs above
  ``/``, is refused before it runs (``outside_paths``; the shell answers exit 126 with the
  path): on a phone such a path is the phone's, here it would be the host's, and ``rm -rf`` of
  it would delete host files. The only host paths a command may name are the harmless ones
  every shell needs: ``/dev/null``, ``/dev/zero``, ``/dev/random``, ``/dev/urandom``,
  ``/dev/tty``, ``/dev/std{in,out,err}``, ``/dev/fd/*`` and ``/proc/self/*``.

  Limits: the check reads the command's words as a shell would split them, but paths built at
  run time (variables, ``cd ..`` then a relative path, paths inside scripts) are neither mapped
  nor checked. It protects against mistakes, not against a command meant to reach the host: the
  shell is not a security boundary — it can do whatever the host user can.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import shlex
from pathlib import Path

from edgekit.errors import UsageError

# Device folders that the shell maps into the sandbox; anything else is the host's.
MAPPED_ROOTS = ("/data", "/sdcard", "/storage", "/system", "/vendor", "/proc/cpuinfo",
                "/sys/devices/system/cpu", "/sys/class/thermal")
# Characters a sandbox path may contain, so that it can replace a device path inside any
# shell quoting without being quoted itself.
SAFE_PATH = re.compile(r"[A-Za-z0-9_./+-]+")
_MAPPED_PATTERN = re.compile(
    r"(?<![\w./~-])(" + "|".join(re.escape(root) for root in MAPPED_ROOTS) + r")(?=[/\s'\";|&)<>:,=]|$)"
    # "/" alone (ls /, cd /) is the device's root, i.e. the sandbox's
    r"|(?<![\w./~-])/(?=[\s'\";|&)<>]|$)")
# Host paths a device command may name (the harmless files every shell uses).
HOST_FILES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/stdin", "/dev/stdout",
              "/dev/stderr")
HOST_PREFIXES = ("/dev/fd/", "/proc/self/")


class SandboxEscape(Exception):
    """A device path that would leave the sandbox."""

    errno = errno.EACCES


class Sandbox:
    def __init__(self, root: Path):
        root = Path(root).expanduser().resolve()
        if not SAFE_PATH.fullmatch(str(root)):
            raise UsageError(f"sandbox path {root} may only contain letters, digits and _ . / + - "
                             f"(it is substituted into shell commands)")
        self.root = root
        self._root_text = str(root)

    # -- sync view: confined ------------------------------------------------------------------

    def _lexical(self, device_path: str) -> str:
        """The device path made absolute and normal; SandboxEscape when ``..`` climbs above /."""
        if "\0" in device_path:  # no file name holds NUL (the kernel would answer EINVAL too)
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), device_path.replace("\0", "\\0"))
        path = device_path if device_path.startswith("/") else "/" + device_path
        if _climbs_above_root(path):
            raise SandboxEscape(f"{device_path}: .. leaves the device's root")
        return posixpath.normpath(path)

    def _contained(self, host_path: str) -> bool:
        return host_path == self._root_text or host_path.startswith(self._root_text + os.sep)

    def host_path(self, device_path: str, *, follow_last: bool = True) -> Path:
        """The host path of a device path, after resolving symlinks inside the sandbox.

        ``follow_last=False`` resolves only the parent folders (for lstat and listing entries):
        a symlink itself may point anywhere, it is never followed."""
        normal = self._lexical(device_path)
        joined = self._root_text + (normal if normal != "/" else "")
        if follow_last:
            resolved = os.path.realpath(joined)
        else:
            parent, name = os.path.split(joined)
            resolved = os.path.join(os.path.realpath(parent), name) if normal != "/" else self._root_text
        if not self._contained(resolved):
            raise SandboxEscape(f"{device_path}: resolves outside the device's file system")
        return Path(resolved)

    def device_path(self, host_path: Path) -> str:
        """The device path of a host path inside the sandbox."""
        relative = os.path.relpath(host_path, self.root)
        return "/" if relative == "." else "/" + relative

    # -- shell view: mapped -----------------------------------------------------------------

    def translate_command(self, command: str) -> str:
        """Rewrite device paths under the mapped roots to their sandbox paths."""
        return _MAPPED_PATTERN.sub(lambda m: self._root_text + (m.group(1) or ""), command)

    def outside_paths(self, command: str) -> list[str]:
        """The absolute paths in ``command`` that are neither the device's (under a mapped root,
        without ``..`` above ``/``) nor one of HOST_FILES: the shell refuses such a command."""
        return [path for path in _absolute_words(command) if not _device_or_allowed(path)]

    def output_rewriter(self) -> "OutputRewriter":
        return OutputRewriter(self._root_text.encode())


def _absolute_words(command: str) -> list[str]:
    """Absolute paths among the command's words (quotes removed, ``;|&()<>`` apart), also after
    the ``=`` of ``--flag=/path`` and ``VAR=/path``."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: the shell rejects the command without running it
        return []
    paths = []
    for word in words:
        candidates = [word] + ([word.split("=", 1)[1]] if "=" in word else [])
        paths += [c for c in candidates if c.startswith("/") and not c.startswith("//")]
    return paths


def _climbs_above_root(path: str) -> bool:
    depth = 0
    for part in path.split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return True
    return False


def _device_or_allowed(path: str) -> bool:
    if _climbs_above_root(path):
        return False
    normal = posixpath.normpath(path)
    if normal in HOST_FILES or normal.startswith(HOST_PREFIXES) or normal == "/":
        return True
    return any(normal == root or normal.startswith(root + "/") for root in MAPPED_ROOTS)


class OutputRewriter:
    """Rewrites sandbox paths in a byte stream back to device paths, across chunk boundaries."""

    def __init__(self, root: bytes):
        self._root = root
        # The root itself ("pwd" in /) or the root followed by "/": not a longer name.
        self._pattern = re.compile(re.escape(root) + rb"(?![A-Za-z0-9_.+-])/?")
        self._pending = b""

    def _replace(self, data: bytes) -> bytes:
        return self._pattern.sub(b"/", data)

    def feed(self, data: bytes) -> bytes:
        data = self._pending + data
        # Hold back a tail that could be the start of the root path split across chunks (or the
        # whole root, whose next byte decides whether it is the root).
        keep = next((size for size in range(min(len(self._root), len(data)), 0, -1)
                     if self._root.startswith(data[-size:])), 0)
        self._pending = data[len(data) - keep:] if keep else b""
        return self._replace(data[:len(data) - keep])

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return self._replace(data)
