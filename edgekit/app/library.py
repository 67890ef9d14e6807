"""Paddle Lite's Android inference library, as the user passes it to ``edgekit app build``.

Paddle Lite's release archives unpack to ``inference_lite_lib.android.armv8/`` (or ``.armv7``)
whose ``java/`` folder holds what a Java app needs::

    java/jar/PaddlePredictor.jar     the com.baidu.paddle.lite classes
    java/so/libpaddle_lite_jni.so    their JNI library, for one ABI

The folder given may be the release root or its ``java/`` folder. The ABI (APK folder
``lib/<abi>/``) is read from the library's ELF header, so an armv7 library lands in
``armeabi-v7a`` and cannot be mistaken for arm64.
"""

from __future__ import annotations

import dataclasses
import struct
import zipfile
from pathlib import Path

from edgekit.errors import InvalidInputError

JAR = Path("jar/PaddlePredictor.jar")
JNI_SO = Path("so/libpaddle_lite_jni.so")
REQUIRED_CLASSES = ("com/baidu/paddle/lite/PaddlePredictor.class", "com/baidu/paddle/lite/MobileConfig.class",
                    "com/baidu/paddle/lite/Tensor.class", "com/baidu/paddle/lite/PowerMode.class")
LAYOUT = "java/jar/PaddlePredictor.jar and java/so/libpaddle_lite_jni.so, as in inference_lite_lib.android.armv8/"
# ELF e_machine → Android ABI folder
ELF_ABIS = {183: "arm64-v8a", 40: "armeabi-v7a", 62: "x86_64", 3: "x86"}
ELF_SHARED_OBJECT = 3


@dataclasses.dataclass(frozen=True)
class PaddleLiteLibrary:
    root: Path
    jar: Path
    jni_so: Path
    abi: str

    def to_dict(self) -> dict:
        return {"root": str(self.root), "jar": str(self.jar), "jni_so": str(self.jni_so), "abi": self.abi}


def find_library(folder: Path) -> PaddleLiteLibrary:
    """The library in ``folder`` (release root or its java/), checked; InvalidInputError naming what is wrong."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"--paddle-lite-lib {folder} is a file; give the library's folder (expected {LAYOUT})")
    if not folder.is_dir():
        raise InvalidInputError(f"Paddle Lite library folder {folder} does not exist (expected {LAYOUT})")
    java = folder / "java" if (folder / "java").is_dir() else folder
    missing = [str(java.relative_to(folder) / p) if java != folder else str(p)
               for p in (JAR, JNI_SO) if not (java / p).is_file()]
    if missing:
        raise InvalidInputError(f"{folder} is not Paddle Lite's Android inference library: missing "
                                f"{' and '.join(missing)} (expected {LAYOUT})")
    jar, jni_so = java / JAR, java / JNI_SO
    _check_jar(jar)
    return PaddleLiteLibrary(root=folder.resolve(), jar=jar.resolve(), jni_so=jni_so.resolve(), abi=elf_abi(jni_so))


def _check_jar(jar: Path) -> None:
    try:
        with zipfile.ZipFile(jar) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidInputError(f"{jar} is not a jar file: {e}") from None
    absent = [name for name in REQUIRED_CLASSES if name not in names]
    if absent:
        raise InvalidInputError(f"{jar} lacks Paddle Lite's Java API: no {', '.join(absent)}")


def elf_abi(path: Path) -> str:
    """The Android ABI of an ELF shared library, from its header."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError as e:
        raise InvalidInputError(f"cannot read {path}: {e.strerror or e}") from None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise InvalidInputError(f"{path} is not an ELF shared library")
    endian = "<" if header[5] == 1 else ">"
    e_type, e_machine = struct.unpack(endian + "HH", header[16:20])
    if e_type != ELF_SHARED_OBJECT:
        raise InvalidInputError(f"{path} is an ELF file but not a shared library (e_type {e_type})")
    if e_machine not in ELF_ABIS:
        raise InvalidInputError(f"{path} is built for an unknown machine (ELF e_machine {e_machine})")
    return ELF_ABIS[e_machine]
