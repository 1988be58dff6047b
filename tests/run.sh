#!/usr/bin/env bash
# Sets up the environment (see scripts/setup_env.sh) with the test extras and runs
# the whole test suite. Extra arguments go to pytest, e.g. `bash tests/run.sh -k metrics`.
set -e
cd "$(dirname "$0")/.."
source scripts/setup_env.sh test
set -e
python -m pytest -q tests "$@"
