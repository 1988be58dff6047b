"""Transfer learning measured on the demo data: ImageNet weights against random init,
and head-only against staged against full fine-tuning, with few and with more images.

    python scripts/compare_transfer.py [--task skirt_length_labels] [--per-value 10 30 100]
                                       [--test-per-value 50] [--out docs/transfer.md]

For each training-set size the demo generator writes one task's data (``--per-value``
training images per value, ``--test-per-value`` test images per value, the same test
drawings for every size), and every variant below trains on it with the task's demo
profile, predicts the test set and is scored. Every variant sees about the same number
of training images (``--images-seen``), so small sets get more epochs. Runs already
finished with the same settings are reused (``analysis.train_or_reuse``).
Accuracy is given with its 95 % Wilson interval over the test images.
"""
import argparse
import math
import os
import time

from gluonfashion import analysis
from gluonfashion.checkpoint import load_json, save_json
from gluonfashion.config import load_config
from gluonfashion.data.demo_data import ensure_demo
from gluonfashion.metrics import binomial_interval

# name -> (what it is, overrides on the task's demo profile)
VARIANTS = {
    "scratch_resnet18": ("resnet18_v2, random init (the kit's earlier demo default)",
                         {"model": "resnet18_v2", "pretrained": False}),
    "scratch": ("efficientnet_lite0, random init, all layers", {"pretrained": False}),
    "head_only": ("efficientnet_lite0, ImageNet weights, head only (backbone frozen)",
                  {"backbone_lr_mult": 0.0}),
    "staged": ("efficientnet_lite0, ImageNet weights, head only for 3 epochs, then all layers at 0.1x lr",
               {"head_only_epochs": 3, "backbone_lr_mult": 0.1}),
    "full": ("efficientnet_lite0, ImageNet weights, all layers", {}),
}


def run_variant(task, data_root, runs_root, name, overrides, images_seen, extra):
    base = load_config(f"configs/fashionai/{task}.yaml", [("data_root", data_root)] + extra, "demo")
    train_rows = len([1 for _ in open(os.path.join(data_root, base["label_files"][0]))])
    epochs = max(4, math.ceil(images_seen / (train_rows * (1 - base["val_fraction"]))))
    settings = {"model": "efficientnet_lite0", "pretrained": True, "epochs": epochs,
                "output_dir": os.path.join(runs_root, name), **overrides}
    cfg = load_config(f"configs/fashionai/{task}.yaml",
                      [("data_root", data_root)] + list(settings.items()) + extra, "demo")
    start = time.time()
    run_dir, reused = analysis.train_or_reuse(cfg, log=lambda *_: None)
    timing = os.path.join(run_dir, "compare_transfer.json")   # the time of the run that trained it
    if not reused:
        save_json(timing, {"seconds": time.time() - start})
    seconds = load_json(timing)["seconds"] if os.path.exists(timing) else None
    scores = analysis.score_test_probs(run_dir)
    n_test = len(analysis.test_set(cfg).images)
    return {"variant": name, "train_rows": train_rows, "epochs": epochs, "n_test": n_test,
            "test_accuracy": scores["test accuracy"], "test_ap": scores["test AP"],
            "seconds": seconds}


def size_tag(extra):
    """Run folders per input size, so measuring several sizes keeps every run."""
    size = dict(extra).get("image_size")
    return f"{size}px" if size else "profile"


def table(rows):
    lines = ["| per value | variant | epochs | test accuracy [95 % interval] | test AP | train + predict s |",
             "|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        acc = r["test_accuracy"]
        low, high = binomial_interval(round(acc * r["n_test"]), r["n_test"])
        secs = "?" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(f"| {r['per_value']} | {r['variant']} | {r['epochs']} | {acc:.3f} [{low:.3f}, {high:.3f}] | "
                     f"{r['test_ap']:.4f} | {secs} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="skirt_length_labels")
    parser.add_argument("--per-value", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--test-per-value", type=int, default=50)
    parser.add_argument("--images-seen", type=int, default=3000, help="training images seen per run")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="docs/transfer.md")
    args = parser.parse_args()
    from gluonfashion.config import parse_override
    extra = [parse_override(o) for o in args.overrides]   # values read as YAML, as --set does
    rows = []
    for per_value in args.per_value:
        data_root = f"data/demo_transfer/{args.task}_n{per_value}"
        ensure_demo("fashionai", data_root, progress=False, train_per_value=per_value,
                    test_per_value=args.test_per_value, tasks=[args.task])
        for name in args.variants:
            row = run_variant(args.task, data_root, f"runs/transfer/{args.task}_n{per_value}_{size_tag(extra)}", name,
                              VARIANTS[name][1], args.images_seen, extra)
            rows.append({"per_value": per_value, **row})
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    legend = "\n".join(f"- `{name}`: {VARIANTS[name][0]}" for name in args.variants)
    text = (f"# Transfer learning on the demo data ({args.task})\n\n"
            f"Produced by `python scripts/compare_transfer.py` on a 2-core CPU: the task's demo profile, "
            f"{args.test_per_value} test images per value (the same for every size), about "
            f"{args.images_seen} training images seen per run, one run per cell.\n\n{legend}\n\n{table(rows)}\n")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
