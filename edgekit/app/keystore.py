"""The debug signing key, made once with keytool like Android Studio's ``debug.keystore``
(alias ``androiddebugkey``, passwords ``android``, ``CN=Android Debug,O=Android,C=US``) and kept
in the workspace cache. Good for installing on your own phone; never for publishing.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from edgekit.workspace import Workspace

KEYSTORE_NAME = "android-debug.keystore"
ALIAS = "androiddebugkey"
PASSWORD = "android"
DNAME = "CN=Android Debug,O=Android,C=US"
STORE_TYPE = "PKCS12"
VALIDITY_DAYS = 10000


@dataclasses.dataclass(frozen=True)
class Keystore:
    path: Path
    alias: str = ALIAS
    password: str = PASSWORD
    store_type: str = STORE_TYPE

    def apksigner_options(self) -> list[str]:
        return ["--ks", str(self.path), "--ks-type", self.store_type, "--ks-key-alias", self.alias,
                "--ks-pass", f"pass:{self.password}", "--key-pass", f"pass:{self.password}"]


def debug_keystore(workspace: Workspace, keytool: Path) -> Keystore:
    """The workspace's debug keystore, generated on first use (temp file + rename)."""
    from edgekit.app.tools import run_tool

    path = workspace.cache_dir / KEYSTORE_NAME
    if path.is_file():
        return Keystore(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".keystore-", dir=path.parent) as tmp:
        made = Path(tmp) / KEYSTORE_NAME
        run_tool([keytool, "-genkeypair", "-noprompt", "-keystore", made, "-storetype", STORE_TYPE,
                  "-storepass", PASSWORD, "-keypass", PASSWORD, "-alias", ALIAS, "-dname", DNAME,
                  "-keyalg", "RSA", "-keysize", "2048", "-validity", str(VALIDITY_DAYS)],
                 what="generating the debug signing key")
        try:
            # link, not replace: if a concurrent build made a key first, keep it, so every APK
            # of this workspace carries the same signature (Android refuses a changed one).
            os.link(made, path)
        except FileExistsError:
            pass
    return Keystore(path)
