"""Child process: convert an ONNX model to a Paddle inference model with X2Paddle.

    python -m edgekit._workers.x2paddle --onnx MODEL.onnx --save-dir DIR --result RESULT.json

X2Paddle's ``onnx2paddle`` runs here, not in the caller, because it changes the process it runs
in: it writes Python code into DIR, puts DIR on ``sys.path`` and imports it as the module
``x2paddle_code``, switches paddle to dygraph mode, and calls ``exit(0)`` when ``paddle.jit.save``
fails. On success DIR/inference_model/model.pdmodel and .pdiparams exist and RESULT.json is
``{"ok": true}``; otherwise RESULT.json says why: ``unsupported_ops`` (the operators X2Paddle has
no mapping for, read from the lines its op checker prints) or ``error`` (the exception's last line).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys

EXIT_FAILED = 1
EXIT_UNSUPPORTED = 2
# X2Paddle's op checker prints "========= N OPs are not supported yet ===========" and then one
# "========== OpType ============" line per operator it cannot map.
_UNSUPPORTED_HEADER = re.compile(r"OPs are not supported yet")
_UNSUPPORTED_OP = re.compile(r"^=+ (\S+) =+$")


def unsupported_ops(printed: str) -> list[str]:
    """The operator names X2Paddle's op checker listed in ``printed`` (empty when it listed none)."""
    lines = printed.splitlines()
    start = next((i for i, line in enumerate(lines) if _UNSUPPORTED_HEADER.search(line)), None)
    if start is None:
        return []
    found = []
    for line in lines[start + 1:]:
        match = _UNSUPPORTED_OP.match(line.strip())
        if not match:
            break
        found.append(match.group(1))
    return sorted(set(found))


def convert(onnx_path: str, save_dir: str) -> dict:
    from x2paddle.convert import onnx2paddle

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            # disable_feedback: X2Paddle otherwise reports every conversion to a Baidu server.
            onnx2paddle(onnx_path, save_dir, convert_to_lite=False, disable_feedback=True)
    except Exception as e:  # X2Paddle raises bare Exceptions (and assertion errors) for what it cannot do
        ops = unsupported_ops(printed.getvalue())
        if ops:
            return {"ok": False, "unsupported_ops": ops}
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        return {"ok": False, "error": f"{type(e).__name__}: {lines[-1] if lines else ''}".strip(": ")}
    finally:
        sys.stderr.write(printed.getvalue())  # X2Paddle's log, for the parent's log file
    produced = [os.path.join(save_dir, "inference_model", name) for name in ("model.pdmodel", "model.pdiparams")]
    if not all(os.path.isfile(path) and os.path.getsize(path) > 0 for path in produced):
        return {"ok": False, "error": "X2Paddle returned without writing inference_model/model.pdmodel/.pdiparams"}
    return {"ok": True}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgekit._workers.x2paddle")
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "1")  # paddle's INFO lines are for its developers
    result = convert(args.onnx, args.save_dir)
    with open(args.result, "w") as f:
        json.dump(result, f)
    if result["ok"]:
        return 0
    return EXIT_UNSUPPORTED if result.get("unsupported_ops") else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
