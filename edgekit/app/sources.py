"""Where the demo app's sources are: ``android_demo/`` of the checkout (or of an install).

Search order: $EDGEKIT_ANDROID_DEMO, the repository's ``android_demo/`` next to the package,
then ``<prefix>/share/edgekit/android_demo``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from pathlib import Path

from edgekit.errors import MissingDependencyError
from edgekit.workspace import sha256_file

SOURCES_ENV = "EDGEKIT_ANDROID_DEMO"
MAIN_JAVA = Path("src/main/java")
LITE_JAVA = Path("lite/java")  # the Paddle Lite engine: compiled only with Paddle Lite's jar


@dataclasses.dataclass(frozen=True)
class DemoSources:
    root: Path
    with_paddle_lite: bool

    @property
    def manifest(self) -> Path:
        return self.root / "AndroidManifest.xml"

    @property
    def res(self) -> Path:
        return self.root / "res"

    def java_files(self) -> list[Path]:
        roots = [MAIN_JAVA] + ([LITE_JAVA] if self.with_paddle_lite else [])
        return sorted(p for r in roots for p in (self.root / r).rglob("*.java"))

    def files(self) -> list[Path]:
        """Everything that goes into the APK from the sources."""
        return sorted([self.manifest, *self.java_files(), *(p for p in self.res.rglob("*") if p.is_file())])

    def digest(self) -> str:
        """A hash of the files' relative paths and contents (the build's cache key part)."""
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(str(path.relative_to(self.root)).encode() + b"\0" + sha256_file(path).encode())
        return digest.hexdigest()[:16]


def demo_root() -> Path:
    candidates = []
    if os.environ.get(SOURCES_ENV):
        candidates.append(Path(os.environ[SOURCES_ENV]))
    candidates.append(Path(__file__).resolve().parents[2] / "android_demo")
    candidates.append(Path(sys.prefix) / "share" / "edgekit" / "android_demo")
    for candidate in candidates:
        if (candidate / "AndroidManifest.xml").is_file() and (candidate / MAIN_JAVA).is_dir():
            return candidate.resolve()
    raise MissingDependencyError(f"the demo app's sources (android_demo/) were not found in "
                                 f"{', '.join(map(str, candidates))}; set {SOURCES_ENV}")


def demo_sources(*, with_paddle_lite: bool) -> DemoSources:
    return DemoSources(root=demo_root(), with_paddle_lite=with_paddle_lite)
