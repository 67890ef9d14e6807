"""``edgekit app build`` and ``app install``: the APK built from scratch with Debian's tools and
checked statically (apksigner, aapt, dexdump, its zip entries), the errors users meet, and the
install over adb against the virtual device.

The model is a tiny Paddle network converted for arm by ``edgekit.convert`` (the real opt).
Paddle Lite's Android library cannot be downloaded here, so the with-library build uses a
stand-in folder in the release layout: a jar with the com.baidu.paddle.lite API (declarations
only, native methods without any implementation) and an ELF header for arm64. It proves the
packaging (dexed classes, ``lib/arm64-v8a/``); it can run nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgekit.app import build as app_build
from edgekit.app.library import elf_abi, find_library
from edgekit.app.platform import _deb822_entries, _one_line_entries, debian_mirror
from edgekit.app.tools import BUILD_TOOLS
from edgekit.errors import InvalidInputError, MissingDependencyError
from edgekit.description import default_description, read_config
from edgekit.preprocess import decode_image, sample_images
from edgekit.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
TEXTLINE_DATA = REPO / "tests/data/deploy_textline"
CHECK_TOOLS = ("aapt", "apksigner", "dexdump", "zipalign", "javac", "java", "keytool", "apt-get", "dpkg-deb")

PADDLE_LITE_API = {
    "ConfigBase": """public class ConfigBase {
        public void setModelFromFile(String modelFile) { throw new UnsupportedOperationException(); }
        public void setThreads(int threads) { throw new UnsupportedOperationException(); }
        public void setPowerMode(PowerMode mode) { throw new UnsupportedOperationException(); }
    }""",
    "MobileConfig": "public class MobileConfig extends ConfigBase { }",
    "PowerMode": """public enum PowerMode { LITE_POWER_HIGH, LITE_POWER_LOW, LITE_POWER_FULL, LITE_POWER_NO_BIND,
        LITE_POWER_RAND_HIGH, LITE_POWER_RAND_LOW }""",
    "PaddleLiteInitializer": """public class PaddleLiteInitializer {
        public static final String JNI_LIB_NAME = "paddle_lite_jni"; }""",
    "PaddlePredictor": """public class PaddlePredictor {
        public static native PaddlePredictor createPaddlePredictor(ConfigBase config);
        public native Tensor getInput(int offset);
        public native Tensor getOutput(int offset);
        public native boolean run(); }""",
    "Tensor": """public class Tensor {
        public native boolean resize(long[] dims);
        public native boolean setData(float[] buf);
        public native float[] getFloatData(); }""",
}


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def elf_header(machine: int, elf_class: int = 2, e_type: int = 3) -> bytes:
    """The first 64 bytes of a little-endian ELF file (enough for the ABI check)."""
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    return ident + struct.pack("<HHI", e_type, machine, 1) + bytes(64 - 24)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def android_tools() -> None:
    missing = [t for t in CHECK_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (scripts/bootstrap.sh --test installs requirements/apt-test.txt)")


@pytest.fixture(scope="module")
def app_workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app-workspace")


def save_tiny_model(folder: Path, input_shape: list, classes: int) -> Path:
    """A small classifier (conv, batch norm, hardswish, pool, fc) saved as a Paddle inference model."""
    import paddle
    from paddle import nn

    class Tiny(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 8, 3, stride=4, padding=1)
            self.bn = nn.BatchNorm2D(8)
            self.act = nn.Hardswish()
            self.pool = nn.AdaptiveAvgPool2D(1)
            self.fc = nn.Linear(8, classes)

        def forward(self, x):
            x = self.pool(self.act(self.bn(self.conv(x))))
            return self.fc(paddle.flatten(x, 1))

    paddle.seed(5)
    model = Tiny()
    model.eval()
    paddle.jit.save(model, str(folder / "inference"), input_spec=[paddle.static.InputSpec(input_shape, "float32", "x")])
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 1000-class model folder without a deploy config: ImageNet preprocessing, no labels."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-app-model"), [1, 3, 224, 224], 1000)


@pytest.fixture(scope="module")
def textline_model(tmp_path_factory) -> Path:
    """A 2-class model with a 3x48x192 input and, beside it, a PaddleClas deploy config declaring
    non-ImageNet preprocessing (fixed-size resize, no crop, BGR, another scale/mean/std) and a
    label file: a model the user trained, as PaddleClas exports it."""
    folder = save_tiny_model(tmp_path_factory.mktemp("textline-model"), [1, 3, 48, 192], 2)
    for name in ("inference.yml", "label_list.txt"):
        shutil.copyfile(TEXTLINE_DATA / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def tiny_arm_nb(tiny_model: Path, app_workspace: Path):
    from edgekit.convert import convert_model

    return convert_model(tiny_model, Workspace.open(app_workspace), target="arm")


@pytest.fixture(scope="module")
def fake_paddle_lite(tmp_path_factory) -> Path:
    """inference_lite_lib.android.armv8/ in the release layout, with the API but no implementation."""
    root = tmp_path_factory.mktemp("paddle-lite") / "inference_lite_lib.android.armv8"
    src, classes = root.parent / "src/com/baidu/paddle/lite", root.parent / "classes"
    src.mkdir(parents=True)
    for name, body in PADDLE_LITE_API.items():
        (src / f"{name}.java").write_text(f"package com.baidu.paddle.lite;\n{body}\n")
    subprocess.run(["javac", "--release", "8", "-d", str(classes), *map(str, sorted(src.glob("*.java")))],
                   check=True, capture_output=True, timeout=300)
    (root / "java/jar").mkdir(parents=True)
    (root / "java/so").mkdir(parents=True)
    with zipfile.ZipFile(root / "java/jar/PaddlePredictor.jar", "w") as jar:
        for path in sorted(classes.rglob("*.class")):
            jar.write(path, str(path.relative_to(classes)))
    (root / "java/so/libpaddle_lite_jni.so").write_bytes(elf_header(183))
    return root


def cli_env(app_workspace: Path) -> dict:
    return {"EDGEKIT_WORKSPACE": str(app_workspace)}


@pytest.fixture(scope="module")
def built_without_library(android_tools, tiny_model: Path, tiny_arm_nb, app_workspace: Path,
                          tmp_path_factory) -> dict:
    """``edgekit app build`` from scratch (empty cache: android.jar/dx download, new debug key)."""
    out = tmp_path_factory.mktemp("apk-out") / "demo.apk"
    proc = subprocess.run([sys.executable, "-m", "edgekit", "app", "build",
                           "--model", str(tiny_model), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=900, cwd=REPO,
                          env=dict(os.environ, **cli_env(app_workspace)))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


PADDLECLAS_LABELS = "0 tench, Tinca tinca\n1 goldfish, Carassius auratus\n"


@pytest.fixture(scope="module")
def built_with_library(android_tools, tiny_arm_nb, fake_paddle_lite: Path, app_workspace: Path, tmp_path_factory):
    """Also with app options: PaddleClas's 'id name' label list, 4 threads, LITE_POWER_NO_BIND."""
    labels = tmp_path_factory.mktemp("labels") / "label_list.txt"
    labels.write_text(PADDLECLAS_LABELS)
    options = app_build.AppOptions(threads=4, power_mode="LITE_POWER_NO_BIND", labels=labels)
    return app_build.build_app(tiny_arm_nb.nb_path, Workspace.open(app_workspace), paddle_lite_lib=fake_paddle_lite,
                               options=options)


def badging(apk: Path) -> str:
    return subprocess.run(["aapt", "dump", "badging", str(apk)], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def dex_classes(apk: Path) -> set[str]:
    out = subprocess.run(["dexdump", str(apk)], capture_output=True, text=True, check=True, timeout=300).stdout
    return {line.split("'")[1][1:-1].replace("/", ".") for line in out.splitlines()
            if "Class descriptor" in line}


def apksigner_verify(apk: Path) -> str:
    proc = subprocess.run(["apksigner", "verify", "--verbose", "--min-sdk-version", "23", str(apk)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------------------- the build


@pytest.mark.slow
def test_apk_without_library_is_signed_launchable_and_bundles_model_and_labels(built_without_library: dict,
                                                                                tiny_arm_nb):
    result = built_without_library
    apk = Path(result["apk"])
    assert apk.name == "demo.apk" and apk.is_file()
    assert apk.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # as any file the user writes, not 0600
    assert result["reused"] is False and result["can_classify"] is False and result["paddle_lite"] is None
    assert result["nb_sha256"] == tiny_arm_nb.sha256 and result["model"] == tiny_arm_nb.name

    verified = apksigner_verify(apk)
    assert "Verified using v1 scheme (JAR signing): true" in verified  # needed below API 24
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in verified

    info = badging(apk)
    assert "package: name='org.edgekit.demo' versionCode='100' versionName='0.1.0'" in info
    manifest = subprocess.run(["aapt", "dump", "xmltree", str(apk), "AndroidManifest.xml"], capture_output=True,
                              text=True, check=True, timeout=120).stdout
    # the camera writes through a content:// URI of the app's own provider, granted per capture
    provider = manifest.split("E: provider", 1)[1].split("E: ", 1)[0]
    assert '=".PhotoProvider"' in provider and '="org.edgekit.demo.photos"' in provider
    assert re.search(r"android:exported\(0x[0-9a-f]+\)=\(type 0x12\)0x0\b", provider)
    assert re.search(r"android:grantUriPermissions\(0x[0-9a-f]+\)=\(type 0x12\)0xffffffff", provider)
    assert "launchable-activity: name='org.edgekit.demo.MainActivity'" in info
    assert "sdkVersion:'23'" in info and "targetSdkVersion:'23'" in info

    classes = dex_classes(apk)
    for name in ("org.edgekit.demo.MainActivity", "org.edgekit.demo.SettingsActivity", "org.edgekit.demo.R",
                 "org.edgekit.demo.PhotoProvider",
                 "org.edgekit.demo.core.LinearResize", "org.edgekit.demo.core.Preprocessor",
                 "org.edgekit.demo.core.TopK", "org.edgekit.demo.core.Labels"):
        assert name in classes
    # No library: no engine, nothing of Paddle Lite — the app can only say so.
    assert "org.edgekit.demo.lite.PaddleLiteEngine" not in classes
    assert not any(c.startswith("com.baidu.") for c in classes)

    with zipfile.ZipFile(apk) as archive:
        names = set(archive.namelist())
        assert not any(n.startswith("lib/") for n in names)
        model = archive.getinfo("assets/model.nb")
        assert model.compress_type == zipfile.ZIP_STORED  # copied out by the app as it is
        assert hashlib.sha256(archive.read("assets/model.nb")).hexdigest() == tiny_arm_nb.sha256
        properties = archive.read("assets/edgekit.properties").decode("latin-1")
        sample = np.frombuffer(archive.read("assets/sample.png"), np.uint8)
        description = json.loads(archive.read("assets/description.json"))
    assert f"model.sha256={tiny_arm_nb.sha256}" in properties
    # A folder without a deploy config: ImageNet's 256/224 evaluation, no labels (the app shows class ids).
    assert "description.asset=description.json" in properties and "labels.asset=\n" in properties
    assert "assets/labels.txt" not in names
    assert description == default_description((1, 3, 224, 224)).to_dict() == result["description"]
    assert description["preprocess"]["resize_short"] == 256 and description["preprocess"]["crop"] == [224, 224]

    # The sample is edgekit's own decoding of chelsea.jpg, losslessly: the golden test's input.
    import cv2

    chelsea = next(p for p in sample_images() if p.name == "chelsea.jpg")
    assert np.array_equal(cv2.imdecode(sample, cv2.IMREAD_COLOR)[:, :, ::-1], decode_image(chelsea))

    subprocess.run(["zipalign", "-c", "-p", "4", str(apk)], check=True, capture_output=True, timeout=120)


@pytest.mark.slow
def test_same_inputs_reuse_the_apk(built_without_library: dict, tiny_model: Path, app_workspace: Path, run_cli):
    again = run_cli("app", "build", "--model", str(tiny_model), "--json", env=cli_env(app_workspace), check=True)
    result = again.json()
    assert result["reused"] is True
    assert result["sha256"] == built_without_library["sha256"]
    # The platform jars and the debug key were cached in the workspace by the first build.
    cache = app_workspace / "cache"
    assert (cache / "android-debug.keystore").is_file()
    assert list((cache / "android-platform").glob("*/android.jar")) and list((cache / "android-platform").glob("*/dx.jar"))


@pytest.mark.slow
def test_apk_with_paddle_lite_library_packs_its_classes_and_jni_library(built_with_library, fake_paddle_lite: Path):
    result = built_with_library
    assert result.can_classify and result.paddle_lite.abi == "arm64-v8a"
    data = result.to_dict()
    assert data["abi"] == "arm64-v8a" and data["paddle_lite"]["root"] == str(fake_paddle_lite.resolve())

    apksigner_verify(result.apk)
    classes = dex_classes(result.apk)
    assert "org.edgekit.demo.lite.PaddleLiteEngine" in classes
    assert {"com.baidu.paddle.lite.PaddlePredictor", "com.baidu.paddle.lite.MobileConfig",
            "com.baidu.paddle.lite.Tensor"} <= classes
    with zipfile.ZipFile(result.apk) as archive:
        jni = archive.read("lib/arm64-v8a/libpaddle_lite_jni.so")
        labels = archive.read("assets/labels.txt").decode()
        properties = archive.read("assets/edgekit.properties").decode("latin-1")
        description = json.loads(archive.read("assets/description.json"))
    assert jni == (fake_paddle_lite / "java/so/libpaddle_lite_jni.so").read_bytes()
    assert labels == PADDLECLAS_LABELS  # --labels replaced the model's; the app's Labels parser reads this format
    assert description["labels"] == ["tench, Tinca tinca", "goldfish, Carassius auratus"]
    assert "runtime.threads=4" in properties and "runtime.power_mode=LITE_POWER_NO_BIND" in properties


@pytest.mark.slow
def test_apk_of_a_model_with_a_deploy_config_carries_its_description_and_labels(android_tools, textline_model: Path,
                                                                                  app_workspace: Path, run_cli):
    """The user's model: its deploy config (non-ImageNet preprocessing, 3x48x192) and label file
    go into the APK, which the app reads (tests/test_app_java.py checks its tensor for this config)."""
    result = run_cli("app", "build", "--model", str(textline_model), "--json", env=cli_env(app_workspace),
                     check=True).json()
    expected = read_config(textline_model / "inference.yml", (1, 3, 48, 192))
    assert expected.preprocess.channel_order == "BGR" and expected.preprocess.resize_size == (192, 48)
    assets = subprocess.run(["aapt", "list", result["apk"]], capture_output=True, text=True, check=True,
                            timeout=120).stdout.split()
    assert {"assets/model.nb", "assets/description.json", "assets/labels.txt"} <= set(assets)
    with zipfile.ZipFile(result["apk"]) as archive:
        description = json.loads(archive.read("assets/description.json"))
        labels = archive.read("assets/labels.txt").decode()
        properties = archive.read("assets/edgekit.properties").decode("latin-1")
    assert description == expected.to_dict()
    assert labels == (TEXTLINE_DATA / "label_list.txt").read_text() == "0 0_degree\n1 180_degree\n"
    assert "labels.asset=labels.txt" in properties
    assert result["description"]["labels"] == 2 and result["description"]["input_shape"] == [1, 3, 48, 192]

    text = run_cli("app", "build", "--model", str(textline_model), env=cli_env(app_workspace), check=True).stdout
    assert "(reused)" in text and "input 1x3x48x192: resize 192x48 (bilinear), no crop, BGR; 2 labels" in text


def test_preprocessing_the_app_cannot_reproduce_is_refused_before_building(textline_model: Path, tmp_path: Path,
                                                                           run_cli, android_tools):
    folder = tmp_path / "bicubic"
    shutil.copytree(textline_model, folder)
    config = folder / "inference.yml"
    config.write_text(config.read_text().replace("interpolation: bilinear", "interpolation: bicubic"))
    message = one_line_error(run_cli("app", "build", "--model", str(folder)), 2)
    assert "resizes with bicubic" in message and "reproduces OpenCV's bilinear, nearest and lanczos" in message
    assert str(config) in message
    assert not (tmp_path / "workspace" / "app").exists() and not (tmp_path / "workspace" / "convert").exists()

    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    message = one_line_error(run_cli("app", "build", "--model", str(textline_model), "--labels", str(labels)), 2)
    assert "3 labels" in message and "2 classes" in message


def test_labels_are_written_in_paddleclas_format_and_read_back(tmp_path: Path):
    from edgekit.description import read_labels

    names = ("tench, Tinca tinca", "two  spaces\tand tab", "", "7")
    text = app_build.labels_text(names)
    assert text == "0 tench, Tinca tinca\n1 two spaces and tab\n2 2\n3 7\n"
    (tmp_path / "labels.txt").write_text(text)
    assert read_labels(tmp_path / "labels.txt") == ("tench, Tinca tinca", "two spaces and tab", "2", "7")


@pytest.mark.slow
def test_android_demo_build_script_runs_the_same_build(built_without_library: dict, tiny_model: Path,
                                                       app_workspace: Path):
    proc = subprocess.run([str(REPO / "android_demo/build.sh"), "--model", str(tiny_model), "--json"],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, **cli_env(app_workspace)))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["reused"] is True and result["sha256"] == built_without_library["sha256"]


@pytest.mark.slow
def test_a_zoo_name_is_converted_for_arm_and_random_weights_are_flagged(android_tools, app_workspace: Path,
                                                                        built_without_library: dict,
                                                                        tiny_model: Path, run_cli):
    from edgekit.lite_runtime import inspect_nb

    result = run_cli("app", "build", "--model", "MobileNetV1_x0_25", env=cli_env(app_workspace), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "warning: MobileNetV1_x0_25 has random weights" in result.stderr
    data = run_cli("app", "build", "--model", "MobileNetV1_x0_25", "--json", env=cli_env(app_workspace),
                   check=True).json()
    assert data["reused"] is True and data["model"] == "MobileNetV1_x0_25"
    assert "random weights" in data["warning"]
    assert "arm" in inspect_nb(Path(data["nb_path"])).targets
    with zipfile.ZipFile(data["apk"]) as archive:
        assert hashlib.sha256(archive.read("assets/model.nb")).hexdigest() == data["nb_sha256"]

    # building the tiny model again reuses its older APK, which is then the one 'app install' takes
    from edgekit.app.install import latest_apk

    reused = run_cli("app", "build", "--model", str(tiny_model), "--json", env=cli_env(app_workspace),
                     check=True).json()
    assert reused["reused"] is True
    assert latest_apk(Workspace.open(app_workspace)) == Path(reused["apk"]) != Path(data["apk"])


# ------------------------------------------------------------------------------- errors


def one_line_error(result, code: int) -> str:
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgekit: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


def test_a_missing_tool_names_its_debian_package(run_cli, tmp_path: Path, tiny_arm_nb):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BUILD_TOOLS:
        if tool != "aapt" and shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    result = run_cli("app", "build", "--model", str(tiny_arm_nb.nb_path), env={"PATH": str(bin_dir)})
    message = one_line_error(result, 3)
    assert "aapt" in message and "apt-get install aapt" in message


def test_a_missing_or_malformed_library_folder_is_a_usage_error(run_cli, tmp_path: Path, tiny_arm_nb,
                                                                 android_tools):
    nb = str(tiny_arm_nb.nb_path)
    message = one_line_error(run_cli("app", "build", "--model", nb, "--paddle-lite-lib", str(tmp_path / "nope")), 2)
    assert "nope does not exist" in message and "PaddlePredictor.jar" in message
    jar = tmp_path / "PaddlePredictor.jar"
    jar.write_bytes(b"PK")
    message = one_line_error(run_cli("app", "build", "--model", nb, "--paddle-lite-lib", str(jar)), 2)
    assert "PaddlePredictor.jar is a file; give the library's folder" in message

    partial = tmp_path / "inference_lite_lib.android.armv8"
    (partial / "java/jar").mkdir(parents=True)
    (partial / "java/jar/PaddlePredictor.jar").write_bytes(b"not a zip")
    message = one_line_error(run_cli("app", "build", "--model", nb, "--paddle-lite-lib", str(partial)), 2)
    assert "missing java/so/libpaddle_lite_jni.so" in message

    (partial / "java/so").mkdir()
    (partial / "java/so/libpaddle_lite_jni.so").write_bytes(elf_header(183))
    message = one_line_error(run_cli("app", "build", "--model", nb, "--paddle-lite-lib", str(partial)), 2)
    assert "PaddlePredictor.jar is not a jar file" in message


def test_a_model_that_is_not_an_arm_nb_is_refused(run_cli, tmp_path: Path, tiny_model: Path, app_workspace: Path,
                                                   android_tools):
    text = tmp_path / "notes.nb"
    text.write_text("hello")
    message = one_line_error(run_cli("app", "build", "--model", str(text)), 2)
    assert "notes.nb is not a Paddle Lite .nb model" in message

    params = tiny_model / "inference.pdiparams"
    message = one_line_error(run_cli("app", "build", "--model", str(params)), 2)
    assert "inference.pdiparams is not a Paddle Lite .nb model" in message

    message = one_line_error(run_cli("app", "build", "--model", str(tmp_path / "missing.nb")), 2)
    assert "missing.nb does not exist" in message

    from edgekit.convert import convert_model

    x86 = convert_model(tiny_model, Workspace.open(app_workspace), target="x86")
    message = one_line_error(run_cli("app", "build", "--model", str(x86.nb_path)), 2)
    assert "converted for" in message and "x86" in message and "--target arm" in message


def test_an_out_path_that_cannot_be_written_fails_before_building(run_cli, tmp_path: Path):
    for out in ("/proc/nope.apk", str(tmp_path / "file.txt" / "demo.apk")):
        (tmp_path / "file.txt").write_text("a file, not a folder")
        message = one_line_error(run_cli("app", "build", "--model", "MobileNetV1_x0_25", "--out", out,
                                         timeout=60), 2)
        assert f"cannot write the APK to {out}" in message and "is not a writable folder" in message
    assert not (tmp_path / "workspace" / "app").exists()  # nothing was built


def test_bad_app_options_are_usage_errors(run_cli, tiny_arm_nb, android_tools):
    nb = str(tiny_arm_nb.nb_path)
    assert "--pretrained applies to zoo model names" in one_line_error(
        run_cli("app", "build", "--model", nb, "--pretrained", "official"), 2)
    assert "LITE_POWER_HIGH" in one_line_error(run_cli("app", "build", "--model", nb, "--power-mode", "TURBO"), 2)
    assert "--threads" in one_line_error(run_cli("app", "build", "--model", nb, "--threads", "0"), 2)


def test_properties_escape_what_java_properties_would_misread():
    assert app_build._escape_property("MobileNetV3_small_x1_0") == "MobileNetV3_small_x1_0"
    assert app_build._escape_property("a\\b é 😀") == "a\\\\b \\u00e9 \\ud83d\\ude00"


# ------------------------------------------------------------------------------ library


def test_library_abi_comes_from_the_elf_header(tmp_path: Path):
    cases = {"arm64.so": (elf_header(183), "arm64-v8a"), "armv7.so": (elf_header(40, elf_class=1), "armeabi-v7a"),
             "x86_64.so": (elf_header(62), "x86_64")}
    for name, (header, abi) in cases.items():
        (tmp_path / name).write_bytes(header)
        assert elf_abi(tmp_path / name) == abi
    (tmp_path / "exe").write_bytes(elf_header(183, e_type=2))
    with pytest.raises(InvalidInputError, match="not a shared library"):
        elf_abi(tmp_path / "exe")
    (tmp_path / "text.so").write_text("hello")
    with pytest.raises(InvalidInputError, match="not an ELF"):
        elf_abi(tmp_path / "text.so")


def test_library_folder_may_be_the_release_root_or_its_java_folder(fake_paddle_lite: Path):
    from_root = find_library(fake_paddle_lite)
    from_java = find_library(fake_paddle_lite / "java")
    assert from_root.jar == from_java.jar and from_root.abi == from_java.abi == "arm64-v8a"


def test_jar_without_paddle_lite_classes_is_refused(tmp_path: Path):
    (tmp_path / "java/jar").mkdir(parents=True)
    (tmp_path / "java/so").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "java/jar/PaddlePredictor.jar", "w") as jar:
        jar.writestr("com/example/Other.class", b"\xca\xfe\xba\xbe")
    (tmp_path / "java/so/libpaddle_lite_jni.so").write_bytes(elf_header(183))
    with pytest.raises(InvalidInputError, match="lacks Paddle Lite's Java API"):
        find_library(tmp_path)


# ------------------------------------------------------------------------------ platform


def test_debian_mirror_comes_from_the_machines_apt_sources(monkeypatch):
    one_line = ("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n"
                "deb http://security.example/debian-security bookworm-security main\n")
    assert list(_one_line_entries(one_line))[0] == ("http://mirror.example/debian", "bookworm", ["main", "contrib"])
    deb822 = ("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
              "Types: deb\nURIs: http://other.example/debian\nSuites: trixie\nComponents: main\nEnabled: no\n")
    entries = list(_deb822_entries(deb822))
    assert ("http://mirror.example/debian", "bookworm", ["main"]) in entries
    assert all(uri != "http://other.example/debian" for uri, _, _ in entries)  # disabled stanza

    monkeypatch.setenv("EDGEKIT_DEBIAN_MIRROR", "http://override.example/debian/")
    assert debian_mirror() == "http://override.example/debian"


def test_platform_jars_from_the_environment_must_both_exist(monkeypatch, tmp_path: Path):
    from edgekit.app.platform import android_platform

    jar = tmp_path / "android.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv("EDGEKIT_ANDROID_JAR", str(jar))
    monkeypatch.delenv("EDGEKIT_DX_JAR", raising=False)
    with pytest.raises(MissingDependencyError, match="set both"):
        android_platform(Workspace.open(tmp_path / "ws"))
    monkeypatch.setenv("EDGEKIT_DX_JAR", str(tmp_path / "dx.jar"))
    with pytest.raises(MissingDependencyError, match="dx.jar is not a file"):
        android_platform(Workspace.open(tmp_path / "ws"))


# ------------------------------------------------------------------------------- install


@pytest.mark.slow
def test_install_on_the_virtual_device_explains_it_has_no_package_manager(built_without_library: dict,
                                                                          virtual_device, app_workspace: Path,
                                                                          run_cli):
    result = run_cli("app", "install", "--serial", virtual_device.address, "--adb-server",
                     virtual_device.adb_server, "--apk", built_without_library["apk"])
    message = one_line_error(result, 5)
    assert virtual_device.address in message and "no Android package manager" in message
    # Without --apk: the workspace's latest build, same answer.
    result = run_cli("app", "install", "--serial", virtual_device.address, "--adb-server",
                     virtual_device.adb_server, env=cli_env(app_workspace))
    assert "no Android package manager" in one_line_error(result, 5)


def test_install_errors_before_any_device_work(run_cli, tmp_path: Path, adb_server: str):
    message = one_line_error(run_cli("app", "install", "--apk", str(tmp_path / "none.apk"),
                                     "--adb-server", adb_server), 2)
    assert "none.apk does not exist" in message
    not_apk = tmp_path / "fake.apk"
    not_apk.write_text("hello")
    assert "fake.apk is not an APK" in one_line_error(
        run_cli("app", "install", "--apk", str(not_apk), "--adb-server", adb_server), 2)
    message = one_line_error(run_cli("app", "install", "--adb-server", adb_server), 2)
    assert "no APK in the workspace" in message


@pytest.mark.slow
def test_install_with_no_matching_device_names_what_is_connected(built_without_library: dict, virtual_device,
                                                                 run_cli):
    result = run_cli("app", "install", "--serial", "no-such-phone", "--adb-server", virtual_device.adb_server,
                     "--apk", built_without_library["apk"])
    message = one_line_error(result, 5)
    assert "no-such-phone" in message and virtual_device.address in message
