"""Backend `triton`: fused Triton kernels (CUDA; Triton's interpreter for tests).

    backend.py   probe, supports(problem, needs_grad), run, TritonEngine (autograd glue)
    fwd.py       the forward kernel (online softmax + entropy accumulators, dropout) + launcher
    bwd.py       the recomputing backward kernel (dq, dk, dv from q, k, lse) + launcher
    jit.py       wrapping the kernel sources: triton.jit or the interpreter, chosen per call

Importing this package imports no triton: the kernels are wrapped on first launch.
"""
