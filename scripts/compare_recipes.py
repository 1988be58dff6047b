"""Measure training recipes and ensembles on the JD-style demo data.

    python scripts/compare_recipes.py [--profile demo] [--out docs/recipes.md]

Trains a few small, different models on the same split (configs/jd/styles.yaml plus
overrides), then combines them with every `gluonfashion ensemble` method, and writes one
table: each single model, each combiner, SWA vs no SWA (same training run, averaged
weights vs best epoch) and staged vs direct fine-tuning. Numbers are test mean F2 with
per-style thresholds searched on validation, as measured; nothing is tuned on test.
"""
import argparse
import os
import time

from gluonfashion.analysis import ensure_jd_demo
from gluonfashion.config import load_config, output_dir
from gluonfashion import checkpoint
from gluonfashion.families import get_family
from gluonfashion.ensembling.workflow import run_ensemble

jd = get_family("jd")

# name -> (what it is, overrides on configs/jd/styles.yaml)
VARIANTS = {
    "direct": ("efficientnet_lite0 from ImageNet weights, weighted BCE", {}),
    "staged": ("efficientnet_lite0, head only for 3 epochs, then all layers at 0.1x lr",
               {"head_only_epochs": 3, "backbone_lr_mult": 0.1}),
    "swa": ("efficientnet_lite0, SWA of the last 4 epochs (predicts with the average)",
            {"swa_epochs": 4, "predict_weights": "swa"}),
    "focal": ("efficientnet_lite0, focal loss", {"loss": "focal"}),
    "mnv3_small": ("mobilenetv3_small from random weights, weighted BCE",
                   {"model": "mobilenetv3_small", "pretrained": False, "lr": 0.004}),
}
ENSEMBLE_OF = ["direct", "swa", "focal", "mnv3_small"]
METHODS = ["mean", "weighted", "vote", "topn", "stack"]


def score(cfg, probs_path, thresholds_path):
    return float(jd.score_config(cfg, probs_path, thresholds_path)["f2_tuned"].mean())


def train_variant(name, overrides, profile, extra, reuse=False):
    # Same split for every variant (ensembles need it): the seed, which also draws the
    # split, stays the same; the variants differ in recipe, loss and network.
    cfg = load_config("configs/jd/styles.yaml",
                      [*extra, f"output_dir=runs/recipes/{name}"] + [(k, v) for k, v in overrides.items()],
                      profile)
    run_dir = output_dir(cfg)
    record = os.path.join(run_dir, "recipe_result.json")
    if reuse and os.path.exists(record):
        return cfg, checkpoint.load_json(record)
    start = time.time()
    run_dir, best = jd.train(cfg, fresh=True, progress=False)
    seconds = time.time() - start
    out = os.path.join("submission", "recipes", name)
    jd.predict(run_dir, out_dir=out, progress=False)
    test = score(cfg, os.path.join(out, "jd_test_probs.csv"), os.path.join(run_dir, "thresholds.json"))
    thresholds = checkpoint.load_json(os.path.join(run_dir, "thresholds.json"))
    result = {"val": thresholds["val_mf2_tuned"], "test": test, "seconds": seconds}
    checkpoint.save_json(record, result)
    return cfg, result


def members(report):
    """Which models an ensemble kept, and why any was dropped (correlation pruning)."""
    models = [m for group in report["groups"].values() for m in group["models"]]
    kept = ", ".join(m["name"] for m in models if m["kept"])
    dropped = "; ".join(f"{m['name']} {m['status']}" for m in models if not m["kept"])
    return kept + (f" ({dropped})" if dropped else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--out", default="docs/recipes.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--reuse", action="store_true",
                        help="take the variants already trained by an earlier run of this script")
    args = parser.parse_args()

    # The data first: the demo images are generated when missing and fetched (resumably).
    data_cfg = load_config("configs/jd/styles.yaml", args.overrides, args.profile)
    if data_cfg["profile"] == "demo":
        ensure_jd_demo(data_cfg["data_root"])
    jd.download(data_cfg, progress=False)

    rows, cfg = [], None
    for name, (what, overrides) in VARIANTS.items():
        cfg, result = train_variant(name, overrides, args.profile, args.overrides, args.reuse)
        rows.append((name, what, result))
        print(f"{name}: val {result['val']:.4f} test {result['test']:.4f} ({result['seconds']:.0f} s)")
    for method in METHODS:
        out = os.path.join("submission", "recipes", f"ensemble_{method}")
        report = run_ensemble([f"runs/recipes/{n}" for n in ENSEMBLE_OF], method=method, out_dir=out,
                              log=lambda *_: None)
        test = score(cfg, os.path.join(out, "jd_test_probs.csv"), os.path.join(out, "thresholds.json"))
        val = report["val_score"]["ensemble"]
        rows.append((f"ensemble: {method}", f"{method} of {members(report)}", {"val": val, "test": test, "seconds": None}))
        print(f"ensemble {method}: val {val:.4f} test {test:.4f}")

    lines = ["| model / combiner | what | val mean F2 | test mean F2 | train s |", "|---|---|---:|---:|---:|"]
    for name, what, r in rows:
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(f"| {name} | {what} | {r['val']:.4f} | {r['test']:.4f} | {seconds} |")
    table = "\n".join(lines)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("# Recipes and ensembles on the JD demo data\n\n"
                f"Produced by `python scripts/compare_recipes.py --profile {args.profile}` on a 2-core CPU "
                f"({cfg['epochs']} epochs at {cfg['image_size']} px, {cfg['model']} starting from "
                f"{'ImageNet weights' if cfg['pretrained'] else 'random weights'} unless the row says "
                "otherwise). Mean F2 over the 13 styles with "
                "per-style thresholds searched on the validation fold; the ensemble's validation scores are "
                "optimistic for `weighted` and `topn`, which choose on those rows.\n\n" + table + "\n")
    print(table)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
