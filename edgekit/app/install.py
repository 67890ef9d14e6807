"""``edgekit app install``: the demo APK onto a phone over adb, through the device layer
(``edgekit.device.select_device(...).install(apk)``), with the package manager's refusals
explained.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Optional, Sequence

from edgekit.errors import DeviceError, InvalidInputError, UsageError

# pm's failure codes that have a remedy the user can apply.
PM_HINTS = {
    "INSTALL_FAILED_NO_MATCHING_ABIS": "the APK's Paddle Lite library is for another ABI than this phone's; "
                                       "rebuild with the library for its ABI (armv8 → arm64-v8a, armv7 → armeabi-v7a)",
    "INSTALL_FAILED_UPDATE_INCOMPATIBLE": "an org.edgekit.demo signed with another key is installed; "
                                          "remove it first: adb uninstall org.edgekit.demo",
    "INSTALL_FAILED_OLDER_SDK": "the phone runs Android older than 6.0 (API 23), which the app needs",
    "INSTALL_FAILED_INSUFFICIENT_STORAGE": "the phone has too little free storage",
}


@dataclasses.dataclass(frozen=True)
class InstallResult:
    apk: Path
    serial: str
    device: dict
    native_abis: tuple[str, ...]  # lib/<abi>/ folders in the APK (none: no inference library packaged)

    def to_dict(self) -> dict:
        return {"apk": str(self.apk), "serial": self.serial, "installed": True,
                "native_abis": list(self.native_abis), "device": self.device}


def apk_native_abis(apk: Path) -> tuple[str, ...]:
    """The ABIs an APK carries native code for; InvalidInputError when it is not an APK."""
    try:
        with zipfile.ZipFile(apk) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidInputError(f"{apk} is not an APK: {e}") from None
    if "AndroidManifest.xml" not in names:
        raise InvalidInputError(f"{apk} is not an APK (no AndroidManifest.xml)")
    return tuple(sorted({n.split("/")[1] for n in names if n.startswith("lib/") and n.count("/") >= 2}))


def latest_apk(workspace) -> Path:
    """The APK of the workspace's most recent ``edgekit app build`` (a reused build counts: it
    writes app/latest.txt too); the newest APK folder when that file is missing."""
    from edgekit.app.build import APK_NAME, LATEST_FILE, STAGE

    pointer = workspace.root / STAGE / LATEST_FILE
    if pointer.is_file():
        apk = workspace.root / STAGE / pointer.read_text().strip() / APK_NAME
        if apk.is_file():
            return apk
    built = workspace.artifacts(STAGE)
    if not built:
        raise UsageError(f"no APK in the workspace {workspace.root}; build one with "
                         "'edgekit app build --model MODEL' or pass --apk")
    return built[-1] / APK_NAME


def install_app(apk: Path, *, profile: Optional[str] = None, serial: Optional[str] = None,
                adb_servers: Sequence[str] = (), devices_file: Optional[Path] = None) -> InstallResult:
    """Install ``apk`` on the one device that matches; DeviceError with the reason when pm refuses."""
    from edgekit.device import select_device

    apk = Path(apk).expanduser()
    if not apk.is_file():
        raise InvalidInputError(f"APK {apk} does not exist (build it with 'edgekit app build')")
    abis = apk_native_abis(apk)
    device = select_device(profile=profile, serial=serial, adb_servers=adb_servers, devices_file=devices_file)
    try:
        device.install(apk)
    except DeviceError as e:
        raise DeviceError(_explain(str(e), device)) from None
    return InstallResult(apk=apk.resolve(), serial=device.serial, device=device.info.to_dict(), native_abis=abis)


def _explain(message: str, device) -> str:
    if device.info.virtual:
        return (f"{device.serial} is edgekit's virtual device, whose shell has no Android package manager, so "
                f"it cannot install apps; use a phone (adb devices lists them). The device said: {message}")
    for code, hint in PM_HINTS.items():
        if code in message:
            return f"{message} ({hint})"
    return message
