"""edgekit's work folder on a device: ``<root>/benchmark_bin-<sha12>`` and
``<root>/models/<name>-<sha12>.nb``.

File names carry the first 12 hex digits of the content's sha256, so two runs (other processes,
other hosts, other versions of a model) never replace a file the other is running: a name always
means the same bytes. ``cleanup`` removes only the files this run used, and only while the run
holds the device's lock; the folders go too when nothing else is left in them.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Optional

from edgekit.bench import REMOTE_ROOT
from edgekit.bench.parse import quote_start
from edgekit.bench.settings import BenchSettings, remote_work_dir
from edgekit.bench.sources import NbFile
from edgekit.errors import DeviceError
from edgekit.workspace import sha256_file

if TYPE_CHECKING:
    from edgekit.device import Device, ShellResult

REMOTE_BIN = "benchmark_bin"
MODELS_DIR = "models"
NO_LIMIT_S = 7 * 24 * 3600.0  # "no limit" for a run: a week (the device layer takes only finite limits)


class RemoteDir:
    """The work folder of one device for one run; remembers what it pushed or used."""

    def __init__(self, device: "Device", root: str = REMOTE_ROOT, *, call_timeout_s: Optional[float] = None):
        self.device = device
        self.root = PurePosixPath(remote_work_dir(root))
        self.call_timeout_s = call_timeout_s
        self.binary: Optional[str] = None  # the remote path of the binary, once prepared
        self.used: set[str] = set()  # remote files this run pushed or found and ran

    @staticmethod
    def binary_name(sha256: str) -> str:
        return f"{REMOTE_BIN}-{sha256[:12]}"

    def model_path(self, nb: NbFile) -> str:
        return str(self.root / MODELS_DIR / nb.remote_name)

    def prepare(self, binary: Path, sha256: Optional[str] = None) -> bool:
        """Create the folders and push the binary; False when the device already had it."""
        result = self.device.shell(["mkdir", "-p", str(self.root / MODELS_DIR)], timeout=self.call_timeout_s)
        _check_shell(result, "mkdir -p", self.device)
        self.binary = str(self.root / self.binary_name(sha256 or sha256_file(binary)))
        self.used.add(self.binary)
        return self._push(binary, self.binary)

    def push_model(self, nb: NbFile) -> bool:
        remote = self.model_path(nb)
        self.used.add(remote)
        return self._push(nb.path, remote)

    def _push(self, local: Path, remote: str) -> bool:
        return self.device.push(local, remote, timeout=self.call_timeout_s)

    def command(self, nb: NbFile, settings: BenchSettings, backend: str) -> list[str]:
        """benchmark_bin's argument vector; the device layer quotes each argument."""
        if self.binary is None:
            raise RuntimeError("RemoteDir.prepare() must run before command()")
        return [self.binary, f"--optimized_model_file={self.model_path(nb)}", *settings.flags(),
                f"--backend={backend}"]

    def run(self, nb: NbFile, settings: BenchSettings, backend: str, timeout_s: Optional[float]) -> "ShellResult":
        """One run of the binary; ``timeout_s`` None is no limit (the device's own limit for a
        call is meant for quick calls, not for a benchmark)."""
        return self.device.shell(self.command(nb, settings, backend),
                                 timeout=NO_LIMIT_S if timeout_s is None else timeout_s)

    def cleanup(self) -> None:
        """Remove the files this run used, then the folders if they are empty. Call it with the
        device's lock held: no other run is using these files then (and other runs' files,
        with other names, stay)."""
        if not self.used:
            return
        files = " ".join(_quote(path) for path in sorted(self.used))
        folders = f"{_quote(str(self.root / MODELS_DIR))} {_quote(str(self.root))}"
        # rmdir only removes empty folders: whatever else lives there stays
        script = f"rm -f {files} && {{ rmdir {folders} 2>/dev/null; true; }}"
        _check_shell(self.device.shell(script, timeout=self.call_timeout_s), "cleanup (rm -f)", self.device)
        self.used.clear()


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def _check_shell(result: "ShellResult", what: str, device: "Device") -> None:
    if result.returncode != 0:
        raise DeviceError(f"{what} failed on {device.serial} (status {result.returncode}): "
                          f"{quote_start(result.stderr + result.stdout, 200)}")
