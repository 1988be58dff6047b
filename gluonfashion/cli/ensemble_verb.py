"""``ensemble``: combine the predictions of finished runs."""
from ..ensembling.combiners import METHODS
from ..ensembling.workflow import run_ensemble


def cmd_ensemble(args):
    run_ensemble(args.runs, method=args.method, out_dir=args.out, top_n=args.top_n,
                 corr_threshold=args.corr_threshold, stack_folds=args.stack_folds,
                 meta=args.meta, seed=args.seed, question_file=args.question)


def register(verbs):
    p = verbs.add_parser(
        "ensemble", help="combine finished runs (mean, weighted, vote, per-label top-N, stacking)",
        description="Combine the validation and test probabilities of finished run folders. "
                    "Models are first pruned by prediction correlation (greedy, best first), then "
                    "combined; k-fold folders (<model>/fold0, fold1, ...) count as one model.")
    p.add_argument("--runs", nargs="+", required=True, metavar="RUN_DIR",
                   help="run folders or glob patterns (quote them), e.g. 'runs/full/jd_*/fold*'; "
                        "a k-fold parent folder stands for all its fold folders")
    p.add_argument("--method", choices=METHODS, default="mean",
                   help="mean | weighted (weights ∝ validation score) | vote (majority) | "
                        "topn (per-label best N, then mean) | stack (meta-model); default mean")
    p.add_argument("--top-n", type=int, default=3, help="models kept per label/task for topn (default 3)")
    p.add_argument("--corr-threshold", type=float, default=0.9,
                   help="drop a model whose validation predictions correlate above this with a better "
                        "kept model (default 0.9; 1 keeps all)")
    p.add_argument("--stack-folds", type=int, default=5,
                   help="stack: cross-validation folds for the out-of-fold meta-predictions (default 5)")
    p.add_argument("--meta", choices=["logistic", "xgboost"], default="logistic",
                   help="stack: meta-model (xgboost only when installed)")
    p.add_argument("--seed", type=int, default=0, help="stack: fold assignment seed")
    p.add_argument("--question", help="FashionAI question.csv to check and order the merged submission "
                                      "(default: the runs' config when the file exists)")
    p.add_argument("--out", default="submission/ensemble", help="output folder (default submission/ensemble)")
    p.set_defaults(func=cmd_ensemble)
