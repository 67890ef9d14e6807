"""The Android platform pieces Debian bookworm lacks: the API 23 ``android.jar`` (compile
classpath) and ``dx`` (class files → classes.dex).

Debian bullseye packages both (``libandroid-23-java``, ``dalvik-exchange``). They are fetched
with ``apt-get download`` using a private apt configuration in the workspace cache — its own
sources list naming bullseye on the same Debian mirror the machine uses, its own package lists
and archive cache — so the machine's apt sources and state are never touched (it works without
root, too). The two jars are unpacked with ``dpkg-deb -x`` and kept, with a manifest, in
``<workspace>/cache/android-platform/<key>/``; later builds reuse them.

Where they come from, first match wins:
  1. $EDGEKIT_ANDROID_JAR and $EDGEKIT_DX_JAR (both set);
  2. the files Debian installs when the two packages are installed on the machine;
  3. the workspace cache;
  4. a download as above ($EDGEKIT_DEBIAN_MIRROR overrides the mirror).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from edgekit.errors import MissingDependencyError, ToolError
from edgekit.workspace import Workspace, artifact_key, building, read_manifest, sha256_file, write_manifest

STAGE = "android-platform"
SUITE = "bullseye"
PACKAGES = ("libandroid-23-java", "dalvik-exchange")
API_LEVEL = 23
ANDROID_JAR = "android.jar"
DX_JAR = "dx.jar"
MIRROR_ENV = "EDGEKIT_DEBIAN_MIRROR"
ANDROID_JAR_ENV = "EDGEKIT_ANDROID_JAR"
DX_JAR_ENV = "EDGEKIT_DX_JAR"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCE_PARTS = Path("/etc/apt/sources.list.d")
# Where Debian's own packages put the files when they are installed on the machine.
SYSTEM_ANDROID_JAR = Path("/usr/lib/android-sdk/platforms/android-23/android.jar")
SYSTEM_DX_JARS = (Path("/usr/lib/android-sdk/build-tools/debian/lib/dx.jar"), Path("/usr/share/java/com.android.dx.jar"))
DEBIAN_SUITES = frozenset({"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
                           "oldoldstable", "oldstable", "stable", "testing", "unstable"})
APT_TIMEOUT_S = 300.0


@dataclasses.dataclass(frozen=True)
class AndroidPlatform:
    android_jar: Path
    dx_jar: Path
    origin: str  # "environment", "system", "cache" or "downloaded"

    def to_dict(self) -> dict:
        return {"android_jar": str(self.android_jar), "dx_jar": str(self.dx_jar), "origin": self.origin}


def android_platform(workspace: Workspace) -> AndroidPlatform:
    """android.jar (API 23) and dx.jar, from the first source that has them (see module doc)."""
    return (_from_environment() or _from_system() or _from_cache(workspace)
            or _download(workspace))


def _from_environment() -> Optional[AndroidPlatform]:
    android, dx = os.environ.get(ANDROID_JAR_ENV), os.environ.get(DX_JAR_ENV)
    if not android and not dx:
        return None
    if not (android and dx):
        raise MissingDependencyError(f"set both {ANDROID_JAR_ENV} and {DX_JAR_ENV}, or neither")
    for variable, value in ((ANDROID_JAR_ENV, android), (DX_JAR_ENV, dx)):
        if not Path(value).is_file():
            raise MissingDependencyError(f"{variable}={value} is not a file")
    return AndroidPlatform(Path(android), Path(dx), "environment")


def _from_system() -> Optional[AndroidPlatform]:
    dx = next((p for p in SYSTEM_DX_JARS if p.is_file()), None)
    if SYSTEM_ANDROID_JAR.is_file() and dx is not None:
        return AndroidPlatform(SYSTEM_ANDROID_JAR, dx, "system")
    return None


def _cache_settings() -> dict:
    return {"suite": SUITE, "packages": list(PACKAGES), "api": API_LEVEL}


def cache_folder(workspace: Workspace) -> Path:
    """Where the two jars are kept: ``<workspace>/cache/android-platform/<key>/``."""
    return workspace.cache_dir / STAGE / artifact_key(_cache_settings())


def _from_cache(workspace: Workspace) -> Optional[AndroidPlatform]:
    folder = cache_folder(workspace)
    if read_manifest(folder) is None:
        return None
    return AndroidPlatform(folder / ANDROID_JAR, folder / DX_JAR, "cache")


# ------------------------------------------------------------------------------- download


def debian_mirror() -> str:
    """$EDGEKIT_DEBIAN_MIRROR, else the Debian archive URI of the machine's own apt sources."""
    override = os.environ.get(MIRROR_ENV)
    if override:
        return override.rstrip("/")
    for uri, suite, components in _apt_source_entries():
        if suite in DEBIAN_SUITES and "main" in components:
            return uri.rstrip("/")
    raise MissingDependencyError(
        f"cannot download android.jar and dx from Debian {SUITE}: this machine's apt sources name no Debian "
        f"archive (main); set {MIRROR_ENV} to a Debian mirror URL that carries {SUITE}, or set "
        f"{ANDROID_JAR_ENV} and {DX_JAR_ENV}")


def _apt_source_entries() -> Iterable[tuple[str, str, list[str]]]:
    """(uri, suite, components) of every 'deb' source, one-line and deb822 formats."""
    files = [APT_SOURCES] + sorted(APT_SOURCE_PARTS.glob("*.list")) + sorted(APT_SOURCE_PARTS.glob("*.sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        yield from (_deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text))


def _one_line_entries(text: str) -> Iterable[tuple[str, str, list[str]]]:
    for line in text.splitlines():
        line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # drop [options]
        if len(line) >= 3 and line[0] == "deb":
            yield line[1], line[2], line[3:]


def _deb822_entries(text: str) -> Iterable[tuple[str, str, list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield uri, suite, fields.get("components", "").split()


def _download(workspace: Workspace) -> AndroidPlatform:
    from edgekit.app.tools import find_tools

    tools = find_tools(["apt-get", "dpkg-deb"])
    if not DEBIAN_KEYRING.is_file():
        raise MissingDependencyError(f"{DEBIAN_KEYRING} is missing (needed to verify Debian {SUITE}'s packages); "
                                     "install the Debian package debian-archive-keyring")
    mirror = debian_mirror()
    final = cache_folder(workspace)
    with tempfile.TemporaryDirectory(prefix="apt-", dir=_ensure(workspace.cache_dir)) as state, \
            building(final) as tmp:
        debs = _apt_download(Path(state), mirror, tools["apt-get"])
        root = Path(state) / "root"
        for deb in debs.values():
            _run([tools["dpkg-deb"], "-x", deb, root], f"unpacking {deb.name}")
        shutil.copyfile(_unpacked(root, "com.android.android-23.jar", "libandroid-23-java"), tmp / ANDROID_JAR)
        shutil.copyfile(_unpacked(root, "com.android.dx-*.jar", "dalvik-exchange"), tmp / DX_JAR)
        write_manifest(tmp, stage=STAGE, model=f"android-{API_LEVEL}", settings=_cache_settings(),
                       inputs={deb.name: sha256_file(deb) for deb in debs.values()},
                       tools={"mirror": mirror})
    if read_manifest(final) is None:
        raise ToolError(f"caching android.jar and dx in {final} failed")
    return AndroidPlatform(final / ANDROID_JAR, final / DX_JAR, "downloaded")


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _apt_options(state: Path) -> list[str]:
    """apt settings that confine apt-get to ``state``: own sources, lists, cache, no pins."""
    for sub in ("lists/partial", "cache/archives/partial", "parts", "preferences.d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    options = {
        "Dir::Etc::SourceList": state / "sources.list",
        "Dir::Etc::SourceParts": state / "parts",
        "Dir::Etc::Preferences": state / "preferences",
        "Dir::Etc::PreferencesParts": state / "preferences.d",
        "Dir::State::Lists": state / "lists",
        "Dir::State::status": state / "status",
        "Dir::Cache": state / "cache",
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else "",
        "Debug::NoLocking": "true" if os.geteuid() != 0 else "false",
    }
    return [arg for key, value in options.items() if value != "" for arg in ("-o", f"{key}={value}")]


def _apt_download(state: Path, mirror: str, apt_get: Path) -> dict[str, Path]:
    """Download PACKAGES from bullseye into ``state/debs``; {package: .deb path}."""
    (state / "sources.list").write_text(f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {SUITE} main\n")
    options = _apt_options(state)
    _run([apt_get, *options, "-q", "update"], f"apt-get update for Debian {SUITE} from {mirror} "
         f"(set {MIRROR_ENV} to another mirror if this one lacks {SUITE})")
    debs_dir = _ensure(state / "debs")
    _run([apt_get, *options, "-q", "download", *PACKAGES], f"apt-get download {' '.join(PACKAGES)}", cwd=debs_dir)
    debs = {}
    for package in PACKAGES:
        found = sorted(debs_dir.glob(f"{package}_*.deb"))
        if not found:
            raise MissingDependencyError(f"apt-get download gave no {package} .deb from {mirror} {SUITE}")
        debs[package] = found[-1]
    return debs


def _unpacked(root: Path, pattern: str, package: str) -> Path:
    """The regular file (not a symlink) matching ``pattern`` under usr/share/java of the unpacked tree."""
    candidates = sorted(p for p in (root / "usr/share/java").glob(pattern) if p.is_file() and not p.is_symlink())
    if not candidates:
        raise ToolError(f"the {package} package has no usr/share/java/{pattern}; its layout changed")
    return candidates[-1]


def _run(command: list, what: str, cwd: Optional[Path] = None) -> None:
    from edgekit.app.tools import run_tool

    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    try:
        run_tool(command, what=what, cwd=cwd, timeout=APT_TIMEOUT_S, env=env)
    except ToolError as e:
        raise MissingDependencyError(f"cannot get android.jar and dx from Debian {SUITE}: {e}") from None
