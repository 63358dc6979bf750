#!/usr/bin/env bash
# Installs the Debian packages entlab builds with, when they are missing.
# Sourced by tools/run.sh and tools/test.sh. As root it runs apt-get; otherwise it
# prints the one apt-get line to run and exits non-zero.

ENTLAB_PACKAGES=(
  cmake g++ make pkg-config
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev
  libcli11-dev nlohmann-json3-dev doctest-dev libstb-dev
)

entlab_missing_packages() {
  local package
  for package in "${ENTLAB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
  done
}

entlab_install_dependencies() {
  local missing
  missing=$(entlab_missing_packages | tr '\n' ' ')
  [[ -z "${missing// /}" ]] && return 0

  if [[ $(id -u) -ne 0 ]]; then
    echo "entlab needs these Debian packages: $missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get install -y $missing" >&2
    exit 1
  fi
  echo "Installing missing packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  # libopenblas-openmp-dev is named together with libopenblas-dev so apt picks the
  # OpenMP build of OpenBLAS rather than the pthread one.
  # shellcheck disable=SC2086
  if ! apt-get install -y --no-install-recommends $missing; then
    apt-get update && apt-get install -y --no-install-recommends $missing
  fi
}

# Configures (Release, warnings on) and builds the given targets into build/.
entlab_build() {
  local root="$1"
  shift
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$root/build" -j "$(nproc)" "$@"
}
