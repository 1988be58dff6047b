# Sourced by benchmark.sh and tests/run.sh: puts a Python with gluonfashion and the
# right MXNet build on PATH. Usage: source scripts/setup_env.sh [extra ...]
#
# - An active virtualenv/conda env is used as it is; otherwise a .venv in the repo.
# - MXNET_VARIANT=cpu|cu112|auto (default auto: cu112 when nvidia-smi sees a GPU).
# - Installs only when setup.py, the extras or the variant changed since last time.
set -euo pipefail
_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_extras=("$@")

_variant="${MXNET_VARIANT:-auto}"
if [[ "$_variant" == auto ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    _variant=cu112
  else
    _variant=cpu
  fi
fi
case "$_variant" in cpu|cu112) ;; *) echo "MXNET_VARIANT must be cpu, cu112 or auto (got $_variant)" >&2; return 2 ;; esac

if [[ -n "${VIRTUAL_ENV:-}" || -n "${CONDA_PREFIX:-}" ]]; then
  _env="${VIRTUAL_ENV:-$CONDA_PREFIX}"
else
  _env="$_repo/.venv"
  if [[ ! -x "$_env/bin/python" ]]; then
    _py="$(command -v python3.11 || command -v python3)"
    echo "[setup] creating $_env with $($_py --version)"
    "$_py" -m venv "$_env"
  fi
  # shellcheck disable=SC1091
  source "$_env/bin/activate"
fi

_want="$(cat "$_repo/setup.py" | sha1sum | cut -c1-12)-$_variant-$(IFS=,; echo "${_extras[*]:-}")"
_stamp="$_env/.gluonfashion-installed"
if [[ ! -f "$_stamp" || "$(cat "$_stamp")" != "$_want" ]]; then
  _other=mxnet-cu112; [[ "$_variant" == cu112 ]] && _other=mxnet
  # Both builds installed at once shadow each other's files: keep exactly one.
  if python -m pip show "$_other" >/dev/null 2>&1; then
    echo "[setup] removing $_other (switching to the $_variant build)"
    python -m pip uninstall -y -q "$_other"
  fi
  _spec="$_variant"; for e in "${_extras[@]}"; do _spec="$_spec,$e"; done
  echo "[setup] installing gluonfashion[$_spec] into $_env (first run takes a minute or two)"
  python -m pip install -q --disable-pip-version-check -e "$_repo[$_spec]"
  echo "$_want" > "$_stamp"
fi
set +euo pipefail
