"""Time JPEG decoding at full size vs at libjpeg's reduced scale (what the loaders do).

    python scripts/bench_decode.py data/demo512/fashionai/Images --min-side 256

Prints milliseconds per image for: full decode then resize of the short side to
``--min-side`` (the old path), and reduced-scale decode then the same resize (the
kit's ``decode_image(path, min_side)``), on one core, plus their ratio.
"""
import argparse
import os
import time

import cv2

from gluonfashion.data.images import decode_image
from gluonfashion.transforms import resize_short

cv2.setNumThreads(1)


def per_image_ms(paths, decode, rounds):
    best = float("inf")
    for _ in range(rounds):          # best of rounds: the least disturbed pass
        start = time.perf_counter()
        for path in paths:
            decode(path)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(paths)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", help="folder of JPEGs (searched recursively)")
    parser.add_argument("--min-side", type=int, default=256, help="short side the loader needs (resize_short)")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(args.images) for f in files
                   if f.lower().endswith((".jpg", ".jpeg")))[:args.limit]
    if not paths:
        raise SystemExit(f"no JPEG files under {args.images}")
    side = args.min_side
    full = per_image_ms(paths, lambda p: resize_short(decode_image(p), side), args.rounds)
    reduced = per_image_ms(paths, lambda p: resize_short(decode_image(p, side), side), args.rounds)
    shape = decode_image(paths[0]).shape
    print(f"{len(paths)} JPEGs like {paths[0]} ({shape[1]}x{shape[0]}), short side -> {side}, one core")
    print(f"full decode + resize     {full:6.2f} ms/img")
    print(f"reduced decode + resize  {reduced:6.2f} ms/img   speed-up x{full / reduced:.2f}")


if __name__ == "__main__":
    main()
