#!/usr/bin/env bash
# Everything a lent GPU machine should run, in two calls that fit its short lease:
#
#   bash benchmarks/gpu_session.sh check   # versions, a fail-fast kernel smoke, pytest -m gpu, the model check
#   bash benchmarks/gpu_session.sh bench   # bench_gpu.py (forward, forward+backward) and bench_gpu_model.py
#   bash benchmarks/gpu_session.sh profile # gpu_profile.py: where a monitored forward's time goes
#   bash benchmarks/gpu_session.sh all     # the three, in one call
#
# Outputs go to $OUT (the device tool's return folder) or ./gpu-out. Uses the machine's own python3
# (its torch / triton / transformers) with this checkout's src/ on PYTHONPATH; the `cpu` backend is
# not built there (CXX points at no compiler), since only `triton` is under test.
set -uo pipefail
stage=${1:?usage: gpu_session.sh check|bench|profile|all}
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CXX=no-compiler-wanted-here
export HEADENTROPY_CACHE=/tmp/headentropy-cache  # (platformdirs is not on that machine)
unset TRITON_INTERPRET
py=python3

if [ "$stage" = check ]; then
  { nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    $py -c "import torch, triton, transformers, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'triton', triton.__version__, 'transformers', transformers.__version__)"
  } 2>&1 | tee "$out/smoke.txt"
  # Fail fast: one compiled forward and backward of each dtype against the fp64 reference.
  timeout 150 $py - <<'PY' 2>&1 | tee -a "$out/smoke.txt" || exit 1
import time, torch, headentropy as he
print(he.backends())
for dtype in (torch.bfloat16, torch.float32):
    t0 = time.time()
    q, k, v = (torch.randn(2, 4, 333, 64, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
    r = he.attention(q, k, v, causal=True)
    (r.out.float().sum() + 0.01 * r.shannon.sum()).backward()
    torch.cuda.synchronize()
    ref = he.attention(q.detach().double().cpu(), k.detach().double().cpu(), v.detach().double().cpu(), causal=True, backend="reference")
    err = {n: float((getattr(r, n).detach().double().cpu() - getattr(ref, n)).abs().max()) for n in ("out", "shannon", "renyi2", "lse")}
    print(dtype, "backend", r.backend, "max abs err", err,
          "grads finite", all(bool(torch.isfinite(x.grad).all()) for x in (q, k, v)), f"{time.time() - t0:.1f} s", flush=True)
    assert all(e < (0.05 if dtype == torch.bfloat16 else 1e-3) for e in err.values()), err
# A NaN in V poisons exactly the rows that give its key weight (flags computed on the device).
q, k, v = (torch.randn(1, 2, 300, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
v[0, 1, 37, 5] = float("nan")
out = he.attention(q, k, v, causal=True).out
assert torch.isnan(out[0, 1, 37:]).all() and torch.isfinite(out[0, 1, :37]).all() and torch.isfinite(out[0, 0]).all()
print("NaN in V: rows 37.. of head 1 NaN, every other row finite", flush=True)
PY
  timeout 240 $py -m pytest -m gpu tests/kernels/test_triton_kernel.py tests/kernels/test_triton_gradients.py \
      -q -p no:cacheprovider --tb=short 2>&1 | tee "$out/tests.txt"
  timeout 120 $py benchmarks/bench_gpu_model.py --check-only 2>&1 | tee "$out/model_check.txt"
elif [ "$stage" = bench ]; then
  timeout 330 $py benchmarks/bench_gpu.py --skip-tests --budget 120 --backward-budget 150 \
      --out "$out/bench_gpu.md" 2>&1 | tee "$out/bench_gpu.txt"
  timeout 150 $py benchmarks/bench_gpu_model.py --out "$out/bench_gpu_model.md" 2>&1 | tee "$out/bench_gpu_model.txt"
elif [ "$stage" = all ]; then  # the three stages in one call (a fresh machine's start is paid once)
  bash "$0" check || exit 1
  bash "$0" profile
  bash "$0" bench
elif [ "$stage" = profile ]; then
  timeout 240 $py benchmarks/gpu_profile.py 2>&1 | tee "$out/profile.txt"
else
  echo "unknown stage $stage" >&2; exit 2
fi
