"""Summarise oneDNN's verbose log: which kernel ran each primitive, per data type.

Run a command with ``DNNL_VERBOSE=1`` (oneDNN 2.x, MXNet 1.9; ``MKLDNN_VERBOSE=1`` for
older builds) and pipe its output here::

    DNNL_VERBOSE=1 MKLDNN_VERBOSE=1 gluonfashion bench --config configs/fashionai/skirt_length_labels.yaml \\
        --profile demo --batches 2 --warmup 1 --repeat 1 --tta none | python scripts/onednn_kernels.py

Prints the oneDNN version and ISA lines, then one row per (primitive, propagation,
source data type, implementation) with how many executions and their total time.
``--section START END`` counts only the lines between two marker lines.
"""
import argparse
import collections
import re
import sys


def parse(lines):
    """``(info lines, Counter of (primitive, prop, src type, impl) -> [count, ms])``."""
    info, runs = [], collections.defaultdict(lambda: [0, 0.0])
    for line in lines:
        if not line.startswith(("dnnl_verbose,", "mkldnn_verbose,")):
            continue
        fields = line.rstrip("\n").split(",")
        if fields[1] == "info":
            info.append(",".join(fields[2:]))
        elif fields[1] == "exec" and len(fields) >= 8:
            primitive, impl, prop, memory = fields[3], fields[4], fields[5], fields[6]
            match = re.search(r"src_([a-z0-9]+)", memory)
            src = match.group(1) if match else memory.split(":")[0].split("_")[-1]
            entry = runs[(primitive, prop, src, impl)]
            entry[0] += 1
            try:
                entry[1] += float(fields[-1])
            except ValueError:
                pass
    return info, runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="verbose log (default: stdin)")
    parser.add_argument("--section", nargs=2, metavar=("START", "END"),
                        help="count only between a line containing START and one containing END")
    args = parser.parse_args(argv)
    lines = open(args.file, encoding="utf-8", errors="replace") if args.file else sys.stdin
    if args.section:
        start, end = args.section
        kept, inside = [], False
        for line in lines:
            if start in line:
                inside = True
            elif end in line:
                inside = False
            elif inside or line.startswith(("dnnl_verbose,info", "mkldnn_verbose,info")):
                kept.append(line)
        lines = kept
    info, runs = parse(lines)
    for line in info[:3]:
        print(line)
    print(f"{'primitive':<14} {'prop':<18} {'src':<5} {'implementation':<34} {'runs':>5} {'ms':>9}")
    for (primitive, prop, src, impl), (count, ms) in sorted(runs.items()):
        print(f"{primitive:<14} {prop:<18} {src:<5} {impl:<34} {count:>5} {ms:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
