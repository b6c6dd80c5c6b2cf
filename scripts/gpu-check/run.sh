#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU, from the project root, after
# scripts/gpu-check/build.sh was run on a build machine and target/gpu-check/ carried here:
#
#   bash scripts/gpu-check/run.sh OUT
#
# Each stage runs as its own process under its own time limit (their sum is 455 s, so the run
# ends within 8 minutes); a stage that fails or runs out of time is reported and the next one
# still runs. OUT gets report.json, report.md, every stage's JSON, logs and peak GPU memory.
#
# Dry run on a machine without an NVIDIA GPU (every script path, smoke sizes, meaningless
# timings): GPU_CHECK_BACKEND=wgpu GPU_CHECK_SMOKE=1 GPU_CHECK_TORCH_DEVICE=cpu, with a
# gpu-check built with `--features wgpu` in GPU_CHECK_DIR.
set -u
out="${1:?usage: run.sh OUT_DIR}"
here="${GPU_CHECK_DIR:-target/gpu-check}"
bin="$here/gpu-check"
py="${PYTHON:-python3}"
script="scripts/gpu-check/torch_baselines.py"
backend="${GPU_CHECK_BACKEND:-cuda}"
start=$(date +%s)
if [ ! -x "$bin" ]; then
  echo "no $bin: build it with scripts/gpu-check/build.sh and carry $here" >&2
  exit 2
fi
if [ "$backend" = cuda ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "no nvidia-smi: this machine has no NVIDIA driver; the check needs a GPU" >&2
  exit 2
fi
mkdir -p "$out/stages" "$out/torch" "$out/memory" "$out/logs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run_args=(--backend "$backend" --out "$out" --reference "$here/reference" --work "$work")
[ "${GPU_CHECK_SMOKE:-0}" = 1 ] && run_args+=(--smoke)

# measured NAME LIMIT_S CMD…: runs CMD under a time limit, logs to OUT/logs/NAME.log and
# records the peak GPU memory (nvidia-smi every 100 ms) in OUT/memory/NAME.json.
measured() {
  local name=$1 limit=$2
  shift 2
  local t0 poll rc peak
  t0=$(date +%s)
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 \
      > "$out/logs/$name.mem" 2>/dev/null &
    poll=$!
  else
    : > "$out/logs/$name.mem"
    poll=
  fi
  timeout -k 5 "$limit" "$@" > "$out/logs/$name.log" 2>&1
  rc=$?
  if [ -n "$poll" ]; then
    kill "$poll" 2>/dev/null
    wait "$poll" 2>/dev/null
  fi
  peak=$(sort -n "$out/logs/$name.mem" | tail -1)
  [ -n "$peak" ] && echo "{\"peak_mib\": $peak}" > "$out/memory/$name.json"
  case $rc in
    0) status=ok ;;
    124|137) status="TIMED OUT" ;;
    *) status="exit $rc" ;;
  esac
  echo "[$(( $(date +%s) - start )) s] $name: $status in $(( $(date +%s) - t0 )) s (limit $limit s, peak ${peak:-?} MiB)"
  [ $rc -eq 0 ] || tail -5 "$out/logs/$name.log"
}

measured info 25 "$py" "$script" info "$out/device.json"
measured models 45 "$py" "$script" models "$work" "$here/reference/encoder/tiny-bert/tokenizer.json"
measured texts 10 "$bin" texts --out "$work/texts.json"
measured ws2-parity 35 "$bin" stage ws2-parity "${run_args[@]}"
measured encoder-parity 35 "$bin" stage encoder-parity "${run_args[@]}"
measured ws2-speed 30 "$bin" stage ws2-speed "${run_args[@]}"
measured torch-ws2-speed 35 "$py" "$script" ws2-speed "$out/torch/ws2-speed.json"
measured train-step 90 "$bin" stage train-step "${run_args[@]}"
measured torch-train-step 60 "$py" "$script" train-step "$work" "$out/torch/train-step.json"
measured encode 50 "$bin" stage encode "${run_args[@]}"
measured torch-encode 40 "$py" "$script" encode "$work" "$out/torch/encode.json"
"$bin" report --out "$out" > "$out/logs/report.log" 2>&1
rc=$?
cat "$out/report.md" 2>/dev/null || cat "$out/logs/report.log"
echo "GPU check finished in $(( $(date +%s) - start )) s: $out/report.md"
exit $rc
