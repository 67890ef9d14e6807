"""Child process: run an x86 ``.nb`` with Paddle Lite's runtime (``MobileConfig``) on a batch.

    python -m edgekit._workers.lite_run --nb MODEL.nb --input IN.npy --output OUT.npy

The .nb was optimized for batch 1, so the samples of IN.npy (N, C, H, W) run one by one through
one predictor; OUT.npy holds the N outputs stacked. Paddle Lite's x86 int8 kernels can
segfault, which is why this runs in a child process.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edgekit._workers.lite_run")
    parser.add_argument("--nb", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    import paddlelite.lite as lite

    config = lite.MobileConfig()
    config.set_model_from_file(args.nb)
    predictor = lite.create_paddle_predictor(config)
    batch = np.load(args.input)
    outputs = []
    for sample in batch:
        predictor.get_input(0).from_numpy(np.ascontiguousarray(sample[None], dtype=np.float32))
        predictor.run()
        outputs.append(np.array(predictor.get_output(0).numpy(), copy=True).reshape(-1))
    np.save(args.output, np.stack(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
