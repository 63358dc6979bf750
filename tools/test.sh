#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs every test suite twice: with
# two OpenMP threads and with one (every kernel must be correct single-threaded).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/tools/deps.sh"
# Idle OpenMP threads sleep instead of spinning: on 2-vCPU machines spinning threads
# slowed training steps 4x (see README, "Threads").
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

entlab_install_dependencies
entlab_build "$root"
cd "$root/build"
echo "== tests with 2 threads =="
OMP_NUM_THREADS=2 ctest --output-on-failure
echo "== tests with 1 thread =="
OMP_NUM_THREADS=1 ctest --output-on-failure
