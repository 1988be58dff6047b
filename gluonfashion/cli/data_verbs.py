"""Verbs that make data ready: ``demo-data``, ``download`` and ``pack``."""
import os

from ..data.pack import ENCODINGS, existing_images, pack_prefix, pack_side, write_pack
from ..families import FAMILIES, family_of
from .common import add_config_args, add_progress_args, load


def cmd_demo_data(args):
    names = list(FAMILIES) if args.family == "all" else [args.family]
    for name in names:
        family, out = FAMILIES[name], os.path.join(args.out, name)
        options = {key: getattr(args, dest) for key, dest in family.demo_arguments.items()}
        made = family.make_demo(out, args.force, not args.quiet, **options)
        print(f"[demo-data] {family.title}: {out} is up to date (--force to remake it)" if made is None else
              f"[demo-data] {family.title}: {made} -> {out}")


def cmd_download(args):
    report = family_of(cfg := load(args)).download(cfg, progress=not args.quiet)
    if report.failed and not args.allow_failed:
        raise RuntimeError(f"{len(report.failed)} of {len(report.urls)} images failed to download (listed in "
                           f"{report.path}): run `download` again to retry them, or pass --allow-failed "
                           f"to go on without them")


def cmd_pack(args):
    cfg = load(args)
    side = args.short_side or pack_side(cfg)
    prefix = pack_prefix(cfg, side)
    images = existing_images(family_of(cfg).images(cfg), f"{cfg['task'] or cfg['family']} under {cfg['data_root']}")
    summary = write_pack(images, cfg["data_root"], prefix, side, args.encoding, args.quality,
                         max(1, cfg["workers"]), not args.quiet)
    print(f"[pack] {summary['images']} images at short side {side} ({args.encoding}, "
          f"{summary['megabytes']:.1f} MB) -> {prefix}.rec"
          + (f"; {len(summary['skipped'])} unreadable images skipped" if summary["skipped"] else ""))
    print(f"[pack] train from it with: --set image_source=pack --set pack_side={side}")


def register(verbs):
    p = verbs.add_parser("demo-data", help="generate the embedded demo datasets")
    p.add_argument("--out", default="data/demo", help="folder with one sub-folder per family")
    p.add_argument("--family", choices=list(FAMILIES) + ["all"], default="all")
    p.add_argument("--jd-train", type=int, default=1200)
    p.add_argument("--jd-test", type=int, default=300)
    p.add_argument("--train-per-value", type=int, default=100,
                   help="FashionAI training images per value (e.g. 10 for a low-data regime)")
    p.add_argument("--test-per-value", type=int, default=12)
    p.add_argument("--tasks", nargs="+", help="FashionAI tasks to generate (default: all eight)")
    p.add_argument("--image-size", type=int, default=128, help="FashionAI and JD image side (default 128)")
    p.add_argument("--df-train", type=int, default=2000, help="DeepFashion train images (default 2000)")
    p.add_argument("--df-val", type=int, default=300, help="DeepFashion val images (default 300)")
    p.add_argument("--df-test", type=int, default=400, help="DeepFashion test images (default 400)")
    p.add_argument("--df-image-size", type=int, default=160,
                   help="DeepFashion scene side (default 160: the person fills the height, the box is cropped)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="remake the data even when it is up to date")
    add_progress_args(p)
    p.set_defaults(func=cmd_demo_data)

    p = verbs.add_parser("download", help="fetch the images of a JD-style train.txt/test.txt")
    add_config_args(p)
    p.add_argument("--allow-failed", action="store_true",
                   help="exit with success even when some images failed (default: exit status 2)")
    add_progress_args(p)
    p.set_defaults(func=cmd_download)

    p = verbs.add_parser("pack", help="resize a task's images once into a RecordIO pack")
    add_config_args(p)
    p.add_argument("--short-side", type=int,
                   help="short side of the stored images (default: pack_side, else resize_short)")
    p.add_argument("--encoding", choices=ENCODINGS, default="jpg",
                   help="jpg (default, small), png (lossless) or raw (no decoding, largest)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    add_progress_args(p)
    p.set_defaults(func=cmd_pack)
