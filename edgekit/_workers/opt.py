"""Child process: run Paddle Lite's opt through ``paddlelite.lite.Opt``.

    python -m edgekit._workers.opt optimize --model-file F --param-file P --valid-targets arm \
        --optimize-out PREFIX [--enable-fp16]
    python -m edgekit._workers.opt supported-ops --valid-targets x86

opt aborts (CHECK failures) or segfaults on programs it cannot handle, which is why it runs
here and not in the caller. It also returns normally after some failures, so ``optimize``
exits 3 when the .nb it should have written is missing or empty.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_NO_OUTPUT = 3


def optimize(args: argparse.Namespace) -> int:
    import paddlelite.lite as lite

    opt = lite.Opt()
    opt.set_model_file(args.model_file)
    opt.set_param_file(args.param_file)
    opt.set_model_type("naive_buffer")
    opt.set_optimize_out(args.optimize_out)
    if args.enable_fp16:
        opt.enable_fp16()  # must precede set_valid_places, as in paddle_lite_opt
    opt.set_valid_places(args.valid_targets)
    opt.run()
    sys.stdout.flush()
    nb = args.optimize_out + ".nb"
    if not os.path.isfile(nb) or os.path.getsize(nb) == 0:
        print(f"opt returned without writing {nb}", file=sys.stderr)
        return EXIT_NO_OUTPUT
    return 0


def supported_ops(args: argparse.Namespace) -> int:
    import paddlelite.lite as lite

    opt = lite.Opt()
    opt.set_valid_places(args.valid_targets)
    opt.print_supported_ops()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgekit._workers.opt")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("optimize")
    run.add_argument("--model-file", required=True)
    run.add_argument("--param-file", required=True)
    run.add_argument("--valid-targets", required=True)
    run.add_argument("--optimize-out", required=True)
    run.add_argument("--enable-fp16", action="store_true")
    ops = commands.add_parser("supported-ops")
    ops.add_argument("--valid-targets", required=True)
    args = parser.parse_args(argv)
    return optimize(args) if args.command == "optimize" else supported_ops(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
