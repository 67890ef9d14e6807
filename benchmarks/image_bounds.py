"""Images that would cost unbounded memory (issue 9, item 9), through ``edgekit predict``.

Two PNGs made here with zlib (a few hundred bytes each):

  huge   33000 x 33000 (1.09 gigapixels, 3.3 GB as RGB): refused from its header
  strip  20000 x 1 (141 bytes): decodes to 60 kB, but resizing its short side to 256 would make
         5120000 x 256 RGB pixels (3.9 GB): refused before the resize allocates

Each is given to ``edgekit predict --model MobileNetV1_x0_25`` (the zoo default: short side 256,
crop 224) in a child process; printed: its exit code, its one-line message, its wall time and
the peak resident memory of the child and its own children (ru_maxrss of RUSAGE_CHILDREN, read
in a fresh process that runs only that command). A first run exports and converts the model into
a temporary workspace, so that the measured runs only predict.

    .venv/bin/python benchmarks/image_bounds.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

MODEL = "MobileNetV1_x0_25"
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "p = subprocess.run([sys.executable, '-m', 'edgekit', 'predict', sys.argv[1], '--model', sys.argv[2]], "
           "capture_output=True, text=True); "
           "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t); "
           "print((p.stderr.strip().splitlines() or [''])[-1])")


def png(width: int, height: int) -> bytes:
    """A grayscale PNG of zeros; a large image holds only its first rows (its header is what a
    bounded decoder reads)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes(width)
    rows = height if width * height <= 10**6 else min(height, 4)
    data = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def measure(image: Path, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, str(image), MODEL], capture_output=True, text=True,
                         env=env, timeout=900)
    first, message = out.stdout.splitlines()[0], out.stdout.splitlines()[1]
    code, max_rss_kib, seconds = first.split()
    return {"image": image.name, "bytes": image.stat().st_size, "exit_code": int(code),
            "peak_rss_mib": round(int(max_rss_kib) / 1024, 1), "seconds": round(float(seconds), 2),
            "message": message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image_bounds.") as scratch:
        folder = Path(scratch)
        env = dict(os.environ, EDGEKIT_WORKSPACE=str(folder / "workspace"))
        images = {"huge": (33000, 33000), "strip": (20000, 1)}
        paths = []
        for name, (width, height) in images.items():
            path = folder / f"{name}_{width}x{height}.png"
            path.write_bytes(png(width, height))
            paths.append(path)
        ok = folder / "ok.png"
        ok.write_bytes(png(320, 240))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edgekit", "predict", str(ok), "--model", MODEL], env=env,
                       capture_output=True, check=True, timeout=900)
        prepared = time.perf_counter() - started
        rows = [measure(path, env) for path in paths + [ok]]
    if args.json:
        print(json.dumps({"model": MODEL, "prepare_seconds": prepared, "runs": rows}, indent=2))
        return
    print(f"edgekit predict --model {MODEL} (export + convert beforehand: {prepared:.1f} s)")
    print(f"{'image':<22} {'bytes':>6} {'exit':>4} {'peak RSS MiB':>12} {'s':>6}  message")
    for row in rows:
        print(f"{row['image']:<22} {row['bytes']:>6} {row['exit_code']:>4} {row['peak_rss_mib']:>12} "
              f"{row['seconds']:>6}  {row['message'][:110]}")


if __name__ == "__main__":
    main()
