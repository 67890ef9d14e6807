"""``edgekit app build``: the demo APK, made with Debian's Android tools.

Steps (each a tool run; a failure is a ToolError quoting the tool):

  1. assets: the ``.nb`` (converted for arm when a model name is given), the model's deployment
     description as ``description.json`` (edgekit.description's JSON: input shape, preprocessing,
     labels) with its labels as ``labels.txt`` (PaddleClas's ``id name``; none when the model has
     no labels: the app shows class ids), the sample photo as a PNG of edgekit's own decoding of
     ``chelsea.jpg`` (so Android's decoder and OpenCV's give the same pixels), and
     ``edgekit.properties`` (model, asset names and runtime defaults);
  2. ``aapt package -m`` → ``R.java``;
  3. ``javac -source 8 -target 8 -bootclasspath android.jar`` (dx reads Java 8 class files only);
     ``android_demo/lite/`` (the Paddle Lite engine) and Paddle Lite's jar join only when the
     library is given;
  4. ``dx`` → ``classes.dex`` (with Paddle Lite's classes when given);
  5. ``aapt package`` (manifest, resources, assets; ``.nb`` stored uncompressed) + ``aapt add``
     (classes.dex, ``lib/<abi>/libpaddle_lite_jni.so``);
  6. ``zipalign -p 4``, ``apksigner sign`` with the workspace's debug key, ``apksigner verify``.

The description is the model's as ``edgekit.resolve`` finds it (its artifact's manifest, a deploy
config beside it, or the default); ``--labels FILE`` replaces its labels. The app reproduces OpenCV's bilinear,
nearest and lanczos resizing byte for byte and nothing else: a description asking for bicubic or
area is refused before building (OpenCV's 8-bit bicubic rounds differently in its SIMD and scalar
code, so its bytes depend on the CPU's vector width; its area filter sums in float in an order not
reproduced here).

The APK is an artifact: ``<workspace>/app/<model>/<key>/edgekit-demo.apk`` with a manifest, keyed
by the model's sha256, its description, the library, the demo's sources and the options, and
reused when they match (``reused=True``); ``--out`` copies it where the user wants it (checked
before building).
``<workspace>/app/latest.txt`` names the APK of the last build, reused or not, for ``app install``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

from edgekit import __version__
from edgekit.app.keystore import Keystore, debug_keystore
from edgekit.app.library import PaddleLiteLibrary, find_library
from edgekit.app.platform import AndroidPlatform, android_platform
from edgekit.app.sources import DemoSources, demo_sources
from edgekit.app.tools import BUILD_TOOLS, find_tools, run_tool
from edgekit.description import DescriptionOverrides, ModelDescription
from edgekit.errors import InvalidInputError, UsageError
from edgekit.workspace import (Workspace, atomic_write_bytes, atomic_write_text, building, read_manifest,
                               sha256_file, write_manifest)

if TYPE_CHECKING:
    from edgekit.artifacts import Pretrained
    from edgekit.nb_info import NbInfo

STAGE = "app"
APK_NAME = "edgekit-demo.apk"
LATEST_FILE = "latest.txt"  # in <workspace>/app: the APK folder of the last build, relative to it
PACKAGE = "org.edgekit.demo"
LAUNCH_ACTIVITY = "org.edgekit.demo.MainActivity"
MIN_SDK = 23
TARGET_SDK = 23
MODEL_ASSET = "model.nb"
LABELS_ASSET = "labels.txt"
DESCRIPTION_ASSET = "description.json"
# The resize filters the app's Java reproduces byte for byte (LinearResize, NearestResize, LanczosResize).
APP_INTERPOLATIONS = ("bilinear", "nearest", "lanczos")
SAMPLE_ASSET = "sample.png"
SAMPLE_SOURCE = "chelsea.jpg"
PROPERTIES_ASSET = "edgekit.properties"
DEFAULT_POWER_MODE = "LITE_POWER_HIGH"
POWER_MODES = ("LITE_POWER_HIGH", "LITE_POWER_LOW", "LITE_POWER_FULL", "LITE_POWER_NO_BIND",
               "LITE_POWER_RAND_HIGH", "LITE_POWER_RAND_LOW")
BUILD_FORMAT = 2  # bump when the build steps change what ends up in the APK


@dataclasses.dataclass(frozen=True)
class BundledModel:
    """The .nb that goes into the APK."""

    name: str
    nb_path: Path
    sha256: str
    bytes: int
    converted: bool  # True when edgekit converted (or reused a conversion of) a model name/folder
    description: ModelDescription  # input shape, preprocessing and labels the app follows
    random_weights: bool = False  # a zoo model exported without --pretrained: its classes mean nothing


@dataclasses.dataclass(frozen=True)
class AppBuild:
    apk: Path
    copied_to: Optional[Path]
    package: str
    version_name: str
    version_code: int
    min_sdk: int
    target_sdk: int
    model: BundledModel
    paddle_lite: Optional[PaddleLiteLibrary]
    bytes: int
    sha256: str
    reused: bool

    @property
    def warning(self) -> Optional[str]:
        if self.model.random_weights:
            return (f"{self.model.name} has random weights (no --pretrained): the app runs it, "
                    "but its classes mean nothing; pass --pretrained official or a .pdparams file")
        return None

    @property
    def can_classify(self) -> bool:
        """False when no inference library is packaged: the app then says so and classifies nothing."""
        return self.paddle_lite is not None

    def to_dict(self) -> dict:
        return {
            "apk": str(self.copied_to or self.apk),
            "workspace_apk": str(self.apk),
            "package": self.package,
            "launchable_activity": LAUNCH_ACTIVITY,
            "version_name": self.version_name,
            "version_code": self.version_code,
            "min_sdk": self.min_sdk,
            "target_sdk": self.target_sdk,
            "model": self.model.name,
            "nb_path": str(self.model.nb_path),
            "nb_sha256": self.model.sha256,
            "nb_bytes": self.model.bytes,
            "description": self.model.description.summary(),
            "paddle_lite": self.paddle_lite.to_dict() if self.paddle_lite else None,
            "abi": self.paddle_lite.abi if self.paddle_lite else None,
            "can_classify": self.can_classify,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "reused": self.reused,
            "warning": self.warning,
        }


@dataclasses.dataclass(frozen=True)
class AppOptions:
    """Runtime defaults baked into the app (the user can change them in its settings screen)."""

    threads: int = 1
    power_mode: str = DEFAULT_POWER_MODE
    labels: Optional[Path] = None  # replaces the labels of the model's description

    def check(self) -> None:
        if self.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {self.threads}")
        if self.power_mode not in POWER_MODES:
            raise UsageError(f"unknown power mode {self.power_mode!r} (Paddle Lite's: {', '.join(POWER_MODES)})")
        if self.labels is not None and not Path(self.labels).is_file():
            raise InvalidInputError(f"label file {self.labels} does not exist")


def build_app(model: Union[str, Path], workspace: Workspace, *, paddle_lite_lib: Optional[Path] = None,
              out: Optional[Path] = None, options: AppOptions = AppOptions(), pretrained: Pretrained = None,
              overrides: DescriptionOverrides = DescriptionOverrides(), force: bool = False) -> AppBuild:
    """A signed debug APK of the demo app bundling ``model`` (see the module doc). ``pretrained``
    (weights of a zoo model: True for PaddleClas's, a path or URL) as in ``edgekit export``;
    ``overrides`` change the model's description (``options.labels`` its labels)."""
    options.check()
    out_file = _out_path(Path(out).expanduser()) if out is not None else None  # before any slow step
    tools = find_tools(BUILD_TOOLS)  # before any slow step: a missing tool is reported at once
    library = find_library(Path(paddle_lite_lib)) if paddle_lite_lib is not None else None
    sources = demo_sources(with_paddle_lite=library is not None)
    if options.labels is not None:
        overrides = dataclasses.replace(overrides, labels=Path(options.labels))
    bundled = resolve_model(model, workspace, pretrained=pretrained, overrides=overrides)
    settings = _settings(bundled, library, sources.digest(), options)
    final = workspace.root / STAGE / bundled.name / _key(settings)
    if not force and read_manifest(final) is not None:
        return _result(workspace, final, bundled, library, out_file, reused=True)

    platform = android_platform(workspace)
    keystore = debug_keystore(workspace, tools["keytool"])
    with building(final) as tmp:
        steps = _Steps(scratch=tmp / "build", tools=tools, platform=platform, sources=sources, library=library)
        _sign(_assemble(steps, bundled, options), tmp / APK_NAME, tools, keystore)
        shutil.rmtree(steps.scratch)
        write_manifest(tmp, stage=STAGE, model=bundled.name, settings=settings, inputs={"nb": bundled.sha256},
                       tools={"edgekit": __version__, "android_platform": platform.origin},
                       description=bundled.description.to_dict())
    return _result(workspace, final, bundled, library, out_file, reused=False)


# ------------------------------------------------------------------------------------ model


def resolve_model(model: Union[str, Path], workspace: Workspace, *, pretrained: Pretrained = None,
                  overrides: DescriptionOverrides = DescriptionOverrides()) -> BundledModel:
    """What MODEL names (edgekit.resolve), with its description and ``overrides`` applied to it: a
    .nb as it is (checked: a naive-buffer model with ARM kernels); anything else (a zoo name,
    ``NAME_int8``, an inference-model folder, .pdmodel or .onnx) converted for arm with
    ``edgekit.convert.convert_model``. InvalidInputError when the app cannot reproduce its
    preprocessing (checked before converting)."""
    from edgekit.resolve import resolve_model as resolve

    path = Path(model).expanduser()
    if path.is_file() and path.suffix not in (".pdmodel", ".onnx"):
        _arm_nb(path)  # before the resolver: a file that is not a .nb says so, whatever its suffix
    resolved = resolve(model, workspace, pretrained=pretrained, overrides=overrides)
    description = _app_description(resolved.description, str(model))
    if resolved.nb_path is not None:
        nb = resolved.nb_path
        info = _arm_nb(nb)
        return BundledModel(name=_safe_name(info.name), nb_path=nb.resolve(), sha256=sha256_file(nb),
                            bytes=nb.stat().st_size, converted=False, description=description)
    from edgekit.convert import convert_model

    lite = convert_model(resolved.model, workspace, target="arm")
    return BundledModel(name=lite.name, nb_path=lite.nb_path, sha256=lite.sha256, bytes=lite.bytes, converted=True,
                        description=description, random_weights=resolved.model.random_weights)


def _app_description(description: ModelDescription, model: str) -> ModelDescription:
    """``description``, checked for what the app can reproduce."""
    pre = description.preprocess
    if pre.interpolation not in APP_INTERPOLATIONS:
        raise InvalidInputError(
            f"{model} resizes with {pre.interpolation} ({description.source}); the demo app reproduces OpenCV's "
            f"{', '.join(APP_INTERPOLATIONS[:-1])} and {APP_INTERPOLATIONS[-1]} resizing exactly and nothing else")
    shape = description.input_shape
    if len(shape) != 4 or shape[1] not in (3, -1):
        raise InvalidInputError(f"{model} takes input {list(shape)}; the demo app feeds 3-channel NCHW images")
    size = pre.output_size
    if size is not None and any(0 < dim != side for dim, side in zip(shape[2:], (size[1], size[0]))):
        raise InvalidInputError(f"{model}'s preprocessing ({description.source}) makes {size[0]}x{size[1]} (WxH) "
                                f"images but its input is {list(shape)}")
    return description


def _safe_name(name: str) -> str:
    """The model's name as a folder name of the workspace."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def _arm_nb(path: Path) -> "NbInfo":
    """What the .nb is (edgekit.nb_info); InvalidInputError unless it is a .nb for phones (arm)."""
    from edgekit.nb_info import describe_nb, looks_like_nb

    if path.suffix != ".nb" or not looks_like_nb(path):
        raise InvalidInputError(f"{path} is not a Paddle Lite .nb model (expected opt's naive_buffer output, "
                                "e.g. from 'edgekit convert MODEL --target arm'; pass a model name to convert one)")
    info = describe_nb(path)
    if info.target is not None and info.target != "arm":
        raise InvalidInputError(f"{path} was converted for {info.target}, not for phones; "
                                "convert it with 'edgekit convert MODEL --target arm'")
    return info


# ----------------------------------------------------------------------------------- assets


def sample_png() -> bytes:
    """The sample photo as edgekit decodes it (OpenCV, EXIF orientation applied), losslessly as PNG."""
    import cv2

    from edgekit.preprocess import decode_image, sample_images

    source = next(p for p in sample_images() if p.name == SAMPLE_SOURCE)
    rgb = decode_image(source)
    ok, png = cv2.imencode(".png", rgb[:, :, ::-1].copy())  # OpenCV encodes BGR
    if not ok:
        raise InvalidInputError(f"cannot encode {source} as PNG")
    return png.tobytes()


def _properties(bundled: BundledModel, options: AppOptions) -> str:
    values = {
        "model.name": bundled.name,
        "model.asset": MODEL_ASSET,
        "model.sha256": bundled.sha256,
        "description.asset": DESCRIPTION_ASSET,
        "labels.asset": LABELS_ASSET if bundled.description.labels is not None else "",
        "sample.asset": SAMPLE_ASSET,
        "runtime.threads": options.threads,
        "runtime.power_mode": options.power_mode,
        "edgekit.version": __version__,
    }
    header = "# Written by edgekit app build; read by org.edgekit.demo.core.ModelInfo.\n"
    return header + "".join(f"{key}={_escape_property(str(value))}\n" for key, value in values.items())


def labels_text(labels: Sequence[str]) -> str:
    """PaddleClas's class_id_map_file: ``id name`` per line (whitespace inside a name kept as one
    space; an empty name is written as its id, as edgekit's label reader reads a bare id)."""
    return "".join(f"{i} {' '.join(name.split()) or i}\n" for i, name in enumerate(labels))


def _escape_property(value: str) -> str:
    """A value as java.util.Properties reads it back: ASCII, backslashes and non-ASCII escaped."""
    def escape(ch: str) -> str:
        if ch == "\\":
            return "\\\\"
        if " " <= ch <= "~":
            return ch
        units = ch.encode("utf-16-be")  # characters beyond the BMP become surrogate pairs, as in Java
        return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))

    return "".join(escape(ch) for ch in value)


def _write_assets(assets: Path, bundled: BundledModel, options: AppOptions) -> None:
    assets.mkdir(parents=True)
    shutil.copyfile(bundled.nb_path, assets / MODEL_ASSET)
    description = bundled.description
    (assets / DESCRIPTION_ASSET).write_text(json.dumps(description.to_dict(), ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    if description.labels is not None:
        (assets / LABELS_ASSET).write_text(labels_text(description.labels), encoding="utf-8")
    (assets / SAMPLE_ASSET).write_bytes(sample_png())
    (assets / PROPERTIES_ASSET).write_text(_properties(bundled, options), encoding="latin-1")


# ------------------------------------------------------------------------------------ steps


@dataclasses.dataclass(frozen=True)
class _Steps:
    """What every build step needs: the scratch folder, the tools and the inputs."""

    scratch: Path
    tools: dict
    platform: AndroidPlatform
    sources: DemoSources
    library: Optional[PaddleLiteLibrary]

    def aapt_inputs(self) -> list:
        return ["-M", self.sources.manifest, "-S", self.sources.res, "-I", self.platform.android_jar]


def _assemble(steps: _Steps, bundled: BundledModel, options: AppOptions) -> Path:
    """Everything up to the unsigned, unaligned APK; returns its path."""
    assets = steps.scratch / "assets"
    _write_assets(assets, bundled, options)
    classes = _compile(steps, _generate_r(steps))
    dex = _dex(steps, classes)
    return _package(steps, assets, dex)


def _generate_r(steps: _Steps) -> Path:
    gen = steps.scratch / "gen"
    gen.mkdir(parents=True)
    run_tool([steps.tools["aapt"], "package", "-f", "-m", "-J", gen, *steps.aapt_inputs()],
             what="aapt: generating R.java")
    return gen


def _compile(steps: _Steps, gen: Path) -> Path:
    """javac for Java 8 against android.jar (dx reads nothing newer); Paddle Lite's jar when given."""
    classes = steps.scratch / "classes"
    classes.mkdir(parents=True)
    argfile = steps.scratch / "sources.txt"
    java_files = steps.sources.java_files() + sorted(gen.rglob("*.java"))
    argfile.write_text("".join(f'"{p}"\n' for p in java_files))
    classpath = ["-classpath", steps.library.jar] if steps.library else []
    run_tool([steps.tools["javac"], "-source", "8", "-target", "8", "-bootclasspath", steps.platform.android_jar,
              *classpath, "-encoding", "UTF-8", "-nowarn", "-Xlint:-options", "-d", classes, f"@{argfile}"],
             what="javac: compiling the demo app")
    return classes


def _dex(steps: _Steps, classes: Path) -> Path:
    dex = steps.scratch / "dex" / "classes.dex"
    dex.parent.mkdir()
    library_jar = [steps.library.jar] if steps.library else []
    run_tool([steps.tools["java"], "-jar", steps.platform.dx_jar, "--dex", f"--min-sdk-version={MIN_SDK}",
              f"--output={dex}", classes, *library_jar], what="dx: converting classes to classes.dex")
    return dex


def _package(steps: _Steps, assets: Path, dex: Path) -> Path:
    """aapt: manifest + resources + assets (.nb and .png stored), then classes.dex and the JNI library."""
    aapt = steps.tools["aapt"]
    apk = steps.scratch / "app.unaligned.apk"
    run_tool([aapt, "package", "-f", *steps.aapt_inputs(), "-A", assets, "-F", apk,
              "--min-sdk-version", str(MIN_SDK), "--target-sdk-version", str(TARGET_SDK),
              "--version-code", str(version_code()), "--version-name", __version__,
              "-0", "nb", "-0", "png"], what="aapt: packaging manifest, resources and assets")
    # aapt add stores each file under the path given, relative to cwd.
    run_tool([aapt, "add", "-f", apk, dex.name], what="aapt: adding classes.dex", cwd=dex.parent)
    if steps.library:
        library = steps.library
        native = steps.scratch / "native"
        (native / "lib" / library.abi).mkdir(parents=True)
        shutil.copyfile(library.jni_so, native / "lib" / library.abi / library.jni_so.name)
        run_tool([aapt, "add", "-f", apk, f"lib/{library.abi}/{library.jni_so.name}"],
                 what="aapt: adding Paddle Lite's JNI library", cwd=native)
    return apk


def _sign(unaligned: Path, signed: Path, tools: dict, keystore: Keystore) -> None:
    aligned = unaligned.with_name("app.aligned.apk")
    run_tool([tools["zipalign"], "-f", "-p", "4", unaligned, aligned], what="zipalign")
    partial = signed.with_name(signed.name + ".partial")
    run_tool([tools["apksigner"], "sign", *keystore.apksigner_options(), "--min-sdk-version", str(MIN_SDK),
              "--out", partial, aligned], what="apksigner: signing with the debug key")
    run_tool([tools["apksigner"], "verify", "--min-sdk-version", str(MIN_SDK), partial],
             what="apksigner: verifying the signed APK")
    os.replace(partial, signed)
    for leftover in signed.parent.glob(partial.name + ".idsig"):
        leftover.unlink()


# ---------------------------------------------------------------------------------- results


def version_code() -> int:
    """0.1.0 → 100: major·10000 + minor·100 + patch (numeric parts only)."""
    parts = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in __version__.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0] * 10000 + parts[1] * 100 + parts[2]


def _settings(bundled: BundledModel, library: Optional[PaddleLiteLibrary], sources_digest: str,
              options: AppOptions) -> dict:
    return {
        "format": BUILD_FORMAT,
        "nb_sha256": bundled.sha256,
        "description": bundled.description.digest(),  # preprocessing and labels
        "sources": sources_digest,
        "paddle_lite": {"jar": sha256_file(library.jar), "jni_so": sha256_file(library.jni_so),
                        "abi": library.abi} if library else None,
        "threads": options.threads,
        "power_mode": options.power_mode,
        "version": __version__,
    }


def _key(settings: dict) -> str:
    from edgekit.workspace import artifact_key

    return artifact_key(settings)


def _result(workspace: Workspace, folder: Path, bundled: BundledModel, library: Optional[PaddleLiteLibrary],
            out_file: Optional[Path], *, reused: bool) -> AppBuild:
    apk = folder / APK_NAME
    atomic_write_text(workspace.root / STAGE / LATEST_FILE, str(folder.relative_to(workspace.root / STAGE)) + "\n")
    copied = _copy(apk, out_file) if out_file is not None else None
    return AppBuild(apk=apk, copied_to=copied, package=PACKAGE, version_name=__version__,
                    version_code=version_code(), min_sdk=MIN_SDK, target_sdk=TARGET_SDK, model=bundled,
                    paddle_lite=library, bytes=apk.stat().st_size, sha256=sha256_file(apk), reused=reused)


def _out_path(out: Path) -> Path:
    """The file ``--out`` names (an existing folder gets edgekit-demo.apk), checked writable
    before the build, so a bad path costs seconds, not a whole build."""
    target = out / APK_NAME if out.is_dir() else out
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders in between are created when copying
    try:  # a real file, not os.access: root passes every access check, yet cannot write to /proc
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        raise InvalidInputError(f"cannot write the APK to {target}: {folder} is not a writable folder") from None
    return target


def _copy(apk: Path, target: Path) -> Path:
    """Copy to ``target`` through a temporary file + rename (an APK is a few MiB: read at once)."""
    try:
        atomic_write_bytes(target, apk.read_bytes())
    except OSError as e:
        raise InvalidInputError(f"cannot write the APK to {target}: {e.strerror or e}") from None
    return target.resolve()

