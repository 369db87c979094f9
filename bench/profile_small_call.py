"""Where a small call's time goes: 8x1024x2 float32 forward (no_grad) and fwd+bwd, stage by stage."""
import os, sys, timeit, torch, numba
import tritonlpc
from tritonlpc import _dispatch, _validation
from tritonlpc.core import LPC
from tritonlpc.backends import numba_cpu as nb

B, T, M = 8, 1024, 2
x = torch.randn(B, T); a = 0.1 * torch.randn(B, T, M); zi = torch.zeros(B, M)
y = nb.forward(x, a, zi)

def t(stmt, n=20000, rep=7):
    return min(timeit.repeat(stmt, number=n, repeat=rep, globals=globals())) / n * 1e6

rows = []
def row(name, stmt, n=20000):
    rows.append((name, t(stmt, n)))

with torch.no_grad():
    row("sample_wise_lpc(x, a) inside use_backend (as the bench)", "with tritonlpc.use_backend('numba'): tritonlpc.sample_wise_lpc(x, a)", 5000)
    row("sample_wise_lpc(x, a)", "tritonlpc.sample_wise_lpc(x, a)", 5000)
    row("  use_backend enter+exit", "with tritonlpc.use_backend('numba'): pass")
    row("  check_lpc(x, a, None)", "_validation.check_lpc(x, a, None)")
    row("  common_dtype(x, a, None)", "_validation.common_dtype(x, a, None)")
    row("  backend_module(x)", "_dispatch.backend_module(x)")
    row("  x.new_zeros(B, M)", "x.new_zeros(B, M)")
    row("  torch.compiler.is_compiling()", "torch.compiler.is_compiling()")
    row("  LPC.apply(x, a, zi)", "LPC.apply(x, a, zi)", 5000)
    row("    nb.forward(x, a, zi)", "nb.forward(x, a, zi)", 5000)
    row("      torch.empty(B, T)", "torch.empty(B, T)")
    row("      _pick_schedule", "nb._pick_schedule(B, T, M, None, None)")
    row("      numba.get_num_threads()", "numba.get_num_threads()")
    row("      _np(x)", "nb._np(x)")
    row("      _parallel_pays", "nb._parallel_pays(B, T, M)")
    args = (nb._np(x), nb._np(a), nb._np(zi), y.numpy(), False, nb._sign(x.dtype, False))
    launch = getattr(nb, "_launch", None) or nb.launch
    row("      launch(kernel) (kernel + unboxing)", "launch(nb._fwd_rows_serial, *args)", 5000)
xg = x.clone().requires_grad_(); ag = a.clone().requires_grad_(); g = torch.randn(B, T)
row("fwd+bwd: sample_wise_lpc + autograd.grad (as the bench)", "with tritonlpc.use_backend('numba'): yy = tritonlpc.sample_wise_lpc(xg, ag)\ntorch.autograd.grad(yy, (xg, ag), g)", 3000)
row("  nb.backward(g, a, y, zi, True, False)", "nb.backward(g, a, y, zi, True, False)", 5000)
print(f"tritonlpc from {tritonlpc.__file__}; load average {os.getloadavg()[0]:.2f}; torch {torch.__version__}, numba {numba.__version__}, threads {numba.get_num_threads()}")
for name, us in rows:
    print(f"{us:9.2f} us  {name}")
