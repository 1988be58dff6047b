#!/usr/bin/env bash
# One command, end to end: set up, (generate demo data,) train every FashionAI task,
# predict the test questions, merge and check the submission, score it when answers exist.
#
#   bash benchmark.sh                  # full profile if data/fashionai/ exists, else demo
#   bash benchmark.sh --profile demo   # force a profile
#   bash benchmark.sh --tasks "skirt_length_labels pant_length_labels"
#   MXNET_VARIANT=cu112 bash benchmark.sh   # GPU build of MXNet (default: auto-detect)
set -euo pipefail
cd "$(dirname "$0")"

profile=auto
tasks=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

source scripts/setup_env.sh
set -euo pipefail

if [[ "$profile" == auto ]]; then
  profile=demo
  [[ -f data/fashionai/base/Annotations/label.csv ]] && profile=full
fi
echo "[benchmark] profile: $profile"
start=$(date +%s)

if [[ "$profile" == demo && ! -f data/demo/fashionai/Annotations/label.csv ]]; then
  gluonfashion demo-data --out data/demo
fi
if [[ -z "$tasks" ]]; then
  tasks=$(cd configs/fashionai && ls *_labels.yaml | sed 's/\.yaml$//')
fi

rm -f submission/*.csv
for task in $tasks; do
  cfg="configs/fashionai/$task.yaml"
  gluonfashion train --config "$cfg" --profile "$profile" --fresh
  gluonfashion predict --config "$cfg" --profile "$profile"
done

any_cfg="configs/fashionai/$(echo $tasks | cut -d' ' -f1).yaml"
if [[ $(echo $tasks | wc -w) -eq $(ls configs/fashionai/*_labels.yaml | wc -l) ]]; then
  gluonfashion merge --config "$any_cfg" --profile "$profile" --out submission/submission.csv
else
  echo "[benchmark] only some tasks ran: skipping the merged submission"
fi

answers=""
[[ "$profile" == demo ]] && answers=data/demo/fashionai/answers.csv
if [[ -n "$answers" && -f submission/submission.csv ]]; then
  gluonfashion evaluate --submission submission/submission.csv --answers "$answers" --runs "runs/$profile"
fi
echo "[benchmark] finished in $(( $(date +%s) - start )) s"
