#!/usr/bin/env bash
# The main job: installs what is missing, builds entlab, and runs the default study
# (three attention variants on Flip-Flop, evaluated at 1-16x the training length).
# Extra arguments go to `entlab study`, e.g. tools/run.sh --steps 500 --out runs/quick
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/tools/deps.sh"
# Idle OpenMP threads sleep instead of spinning: on 2-vCPU machines spinning threads
# slowed training steps 4x (see README, "Threads").
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

entlab_install_dependencies
entlab_build "$root" --target entlab
cd "$root"
exec ./build/entlab study "$@"
