"""Store a checkpoint's float32 weights as float16: half the bytes on disk, the same model once loaded.

    python tools/half_weights.py MODEL.safetensors [-o OUT]

Loading copies the weights into the model's float32 parameters (io/checkpoint.py: half_weights).
`make model` runs it on the default model, whose CNN would take 19 MB in float32.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from spectool.io.checkpoint import half_weights

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("-o", "--output", default=None, help="write here instead of in place")
    args = ap.parse_args(argv)
    out, n, saved = half_weights(args.model, args.output)
    print(f"{n} weight tensors stored as float16 in {out} ({saved / 2**20:.1f} MB saved)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
