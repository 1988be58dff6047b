#!/usr/bin/env bash
# One command, end to end: set up the environment, then for each task family
#   FashionAI: train every attribute task, predict the questions, merge and check the
#              submission (submission/submission.csv), score it when answers exist;
#   JD:        download the images, train one network for the 13 styles, search per-style
#              thresholds, write submission/jd_submission.csv, score it when answers exist;
#   DeepFashion: crop the boxes, train one network for the category and the attributes,
#              write submission/deepfashion_predictions.csv (top-5 ids), score the test set.
# Real data under data/fashionai/, data/jd/ or data/deepfashion/ selects the full profile;
# otherwise the embedded demo data is generated and the demo profile runs (2-core CPU).
#
#   bash benchmark.sh                      # all three families, profile picked per family
#   bash benchmark.sh --family fashionai   # or jd, or deepfashion
#   bash benchmark.sh --profile demo       # force a profile
#   bash benchmark.sh --tasks "skirt_length_labels pant_length_labels"
#   bash benchmark.sh --ensemble           # also train a second, different model per task
#                                          # and finish with a mean ensemble of the two
#   bash benchmark.sh --allow-failed-downloads   # JD: train even when some images could not
#                                          # be downloaded (default: stop and say so)
#   MXNET_VARIANT=cu112 bash benchmark.sh  # CUDA 11.2 build of MXNet (default: auto-detect)
set -euo pipefail
cd "$(dirname "$0")"

profile=auto
family=all
tasks=""
ensemble=0
allow_failed=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --family) family="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --ensemble) ensemble=1; shift ;;
    --allow-failed-downloads) allow_failed=(--allow-failed); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

source scripts/setup_env.sh
set -euo pipefail
start=$(date +%s)
log() { echo "[benchmark $(( $(date +%s) - start ))s] $*"; }

# The second model of --ensemble: small and different on the demo, strong on real data.
variant_model() {
  if [[ "$1" == demo ]]; then echo "${ENSEMBLE_MODEL:-mobilenetv3_small}"; else echo "${ENSEMBLE_MODEL:-densenet121}"; fi
}

train_variant() {   # config, profile: the --ensemble partner run, in runs/<profile>/<task>_b
  local model; model=$(variant_model "$2")
  local weights=(); [[ "$2" == demo ]] && weights=(--set pretrained=false)   # no zoo download on the demo
  gluonfashion train --config "$1" --profile "$2" --fresh --set model="$model" "${weights[@]}" \
    --set "output_dir=runs/$2/{task}_b"
  gluonfashion predict --config "$1" --profile "$2" --set "output_dir=runs/$2/{task}_b" --out submission/variant_b
}

pick_profile() {   # family, file that marks real data
  if [[ "$profile" != auto ]]; then echo "$profile"
  elif [[ -f "$2" ]]; then echo full
  else echo demo; fi
}

fashionai() {
  local p; p=$(pick_profile fashionai data/fashionai/base/Annotations/label.csv)
  log "FashionAI, profile $p"
  if [[ "$p" == demo ]]; then   # skipped when data/demo holds this generator's current output
    gluonfashion demo-data --family fashionai --out data/demo
  fi
  local all; all=$(cd configs/fashionai && ls *_labels.yaml | sed 's/\.yaml$//')
  local run="${tasks:-$all}"
  rm -f submission/*_labels.csv submission/submission.csv
  for task in $run; do
    log "train + predict $task"
    gluonfashion train --config "configs/fashionai/$task.yaml" --profile "$p" --fresh --predict
    if [[ $ensemble == 1 ]]; then train_variant "configs/fashionai/$task.yaml" "$p"; fi
  done
  local first; first=$(echo $run | cut -d' ' -f1)
  if [[ $(echo $run | wc -w) -ne $(echo $all | wc -w) ]]; then
    log "only some tasks ran: no merged submission"; return
  fi
  gluonfashion merge --config "configs/fashionai/$first.yaml" --profile "$p" --out submission/submission.csv
  if [[ "$p" == demo ]]; then
    gluonfashion evaluate --config "configs/fashionai/$first.yaml" --profile "$p"
  fi
  if [[ $ensemble == 1 ]]; then
    local runs=(); for task in $run; do runs+=("runs/$p/$task" "runs/$p/${task}_b"); done
    gluonfashion ensemble --runs "${runs[@]}" --method mean --out submission/ensemble_fashionai
    if [[ "$p" == demo ]]; then
      log "ensemble of the two models per task:"
      gluonfashion evaluate --submission submission/ensemble_fashionai/submission.csv \
        --answers data/demo/fashionai/answers.csv
    fi
  fi
}

jd() {
  local p; p=$(pick_profile jd data/jd/train.txt)
  local cfg=configs/jd/styles.yaml
  log "JD styles, profile $p"
  if [[ "$p" == demo ]]; then
    gluonfashion demo-data --family jd --out data/demo
  fi
  if ! gluonfashion download --config "$cfg" --profile "$p" "${allow_failed[@]}"; then
    log "JD: images missing after download (report above); rerun to retry them, or pass" \
        "--allow-failed-downloads to train without them"
    exit 1
  fi
  gluonfashion train --config "$cfg" --profile "$p" --fresh --predict
  if [[ "$p" == demo ]]; then
    gluonfashion evaluate --config "$cfg" --profile "$p"
  fi
  if [[ $ensemble == 1 ]]; then
    train_variant "$cfg" "$p"
    gluonfashion ensemble --runs "runs/$p/jd_styles" "runs/$p/jd_styles_b" --method mean --out submission/ensemble_jd
    if [[ "$p" == demo ]]; then
      log "ensemble of the two JD models:"
      gluonfashion evaluate --config "$cfg" --profile "$p" --submission submission/ensemble_jd/jd_test_probs.csv \
        --thresholds submission/ensemble_jd/thresholds.json
    fi
  fi
}

deepfashion() {
  local p; p=$(pick_profile deepfashion data/deepfashion/Anno/list_category_img.txt)
  local cfg=configs/deepfashion/deepfashion.yaml
  log "DeepFashion, profile $p"
  if [[ "$p" == demo ]]; then
    gluonfashion demo-data --family deepfashion --out data/demo
  fi
  gluonfashion train --config "$cfg" --profile "$p" --fresh --predict
  gluonfashion evaluate --config "$cfg" --profile "$p"   # the lists hold the test answers
  if [[ $ensemble == 1 ]]; then
    train_variant "$cfg" "$p"
    gluonfashion ensemble --runs "runs/$p/deepfashion" "runs/$p/deepfashion_b" --method mean \
      --out submission/ensemble_deepfashion
    log "ensemble of the two DeepFashion models:"
    gluonfashion evaluate --config "$cfg" --profile "$p" \
      --submission submission/ensemble_deepfashion/deepfashion_scores.csv
  fi
}

case "$family" in
  fashionai) fashionai ;;
  jd) jd ;;
  deepfashion) deepfashion ;;
  all) fashionai; jd; deepfashion ;;
  *) echo "--family must be fashionai, jd, deepfashion or all" >&2; exit 2 ;;
esac
log "finished in $(( $(date +%s) - start )) s"
