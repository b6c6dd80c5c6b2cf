#!/usr/bin/env bash
# Builds the GPU check here, for a machine with an NVIDIA GPU and no Rust toolchain:
# target/gpu-check/ gets the stripped `gpu-check` binary (feature `cuda`, CUDA 13 through
# CUDARC_CUDA_VERSION, so it loads libcuda.so and libnvrtc.so.13 there) and the reference
# fixtures it reads. Carry that folder with the working tree and run
# `bash scripts/gpu-check/run.sh OUT` there (BENCHMARKS.md, "Running the GPU check").
set -euo pipefail
cd "$(dirname "$0")/../.."
shared="${RANKWISE_SHARED:-../shared}"
dest=target/gpu-check
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" \
  cargo build --release -p rankwise-gpu-check --features cuda
rm -rf "$dest"
mkdir -p "$dest/reference/encoder"
cp target/release/gpu-check "$dest/gpu-check"
strip "$dest/gpu-check"
cp -r "$shared/reference/ws2" "$dest/reference/ws2"
cp -r "$shared/reference/encoder/tiny-bert" "$dest/reference/encoder/tiny-bert"
echo "carried folder: $(du -sh "$dest" | cut -f1) ($dest)"
echo "working tree:   $(git ls-files -z | du -ch --files0-from=- | tail -1 | cut -f1) (tracked files)"
echo "run there:      bash scripts/gpu-check/run.sh gpu-check-report"
