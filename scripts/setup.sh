#!/usr/bin/env bash
# Installs what tapegrad needs from Debian's packages. Idempotent: a package that is
# already installed is skipped, and nothing is done when everything is there.
#
#   scripts/setup.sh            build and test dependencies
#   scripts/setup.sh --extras   also the tools of the examples (gnuplot, npm)
#   scripts/setup.sh --bench    also LibTorch, for the benchmarks' comparisons
#                               (optional; tapegrad itself never needs them)
#   scripts/setup.sh --fixtures also the Python packages that remake the reference data of
#                               tests/fixtures/ (generate*.py; CI reads the committed files)
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libxtensor-dev libxtensor-blas-dev xtl-dev libxsimd-dev
  libopenblas-dev   # named explicitly: the reference BLAS also satisfies xtensor-blas
  libdnnl-dev       # oneDNN: the float GEMMs on most CPUs (autograd/src/gemm.cpp)
  doctest-dev libfmt-dev nlohmann-json3-dev libzip-dev libcli11-dev
  libbenchmark-dev ccache clang-format clang-tidy
  clang libclang-rt-14-dev   # scripts/fuzz.sh: clang-14 and its libFuzzer runtime
  doxygen                    # scripts/api_docs.sh: the API reference
  libopenmpi-dev openmpi-bin # tapegrad::distributed and its tests (mpirun); optional to build
)
if [[ "${1:-}" == "--extras" ]]; then
  packages+=(gnuplot-nox)
  # npm fetches the sentiment data set. A machine with Node.js from elsewhere (NodeSource's
  # nodejs bundles npm, and conflicts with Debian's npm package) already has it.
  command -v npm >/dev/null || packages+=(npm)
fi
if [[ " $* " == *" --bench "* ]]; then
  packages+=(libtorch-dev)  # Debian's LibTorch 1.13 (CMake: find_package(Torch))
fi
if [[ " $* " == *" --fixtures "* ]]; then
  # generate.py, generate_optim.py, generate_checkpoint.py: PyTorch and NumPy;
  # generate_bleu.py: NLTK's corpus_bleu. Run them with /usr/bin/python3.
  packages+=(python3-numpy python3-torch python3-nltk)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
