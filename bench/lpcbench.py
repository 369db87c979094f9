"""Shared pieces of the benchmark suite: devices, the matrix, inputs, implementations, timing.

Imported by ``bench/conftest.py``, the benchmark modules and ``bench/report.py`` (pytest puts
``bench/`` on ``sys.path`` because ``bench/conftest.py`` lives there; the report script runs
from ``bench/``). Nothing here imports tritonlpc or torchlpc at module level, so a missing
optional implementation only skips its own benchmarks.

Definitions used by every result (see bench/README.md):

* ``min_bytes``: bytes that any implementation must move at least once, in the input dtype's
  element size ``s``: forward reads ``x`` and ``a`` and writes ``y``: ``B*T*(M+2)*s``;
  forward+backward adds reading ``dL/dy``, ``a`` and ``y`` and writing ``dL/dx`` and
  ``dL/da``: ``B*T*(3M+5)*s`` in all.
* ``gbps``: ``min_bytes / median time`` in GB/s (1e9 bytes).
* ``pct_of_copy``: ``100 * copy median / median``, where "copy" is a device-to-device copy
  that moves the same ``min_bytes`` (reads ``min_bytes/2``, writes ``min_bytes/2``): the
  bandwidth ceiling.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import itertools
import math
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "bfloat16": torch.bfloat16,
}
DIRECTIONS = ("fwd", "fwd+bwd")

# ----------------------------------------------------------------------------------------------
# The matrix. (B, T, M, dtype). "matrix" shapes come from the issue; "sweep" shapes add points
# along T at (B=8, M=2) so that time-vs-T plots have lines, and are the only shapes where the
# plain PyTorch loop (an O(T) Python loop) runs, as a sanity anchor.
# ----------------------------------------------------------------------------------------------
Shape = Tuple[int, int, int, str]

CPU_MATRIX: List[Shape] = [
    (1, 2**16, 2, "float32"),
    (8, 2**16, 2, "float32"),
    (64, 2**14, 2, "float32"),
    (4, 2**16, 8, "float32"),
    (4, 2**16, 1, "float32"),
]
CPU_SWEEP: List[Shape] = [(8, 2**10, 2, "float32"), (8, 2**12, 2, "float32"), (8, 2**14, 2, "float32")]

GPU_MATRIX: List[Shape] = [
    (1, 2**20, 2, "float32"),
    (8, 2**18, 2, "float32"),
    (64, 2**16, 2, "float32"),
    (1024, 2**14, 2, "float32"),
    (1, 2**20, 1, "float32"),
    (8, 2**18, 4, "float32"),
    (16, 2**16, 16, "float32"),
    (8, 2**16, 2, "complex64"),
    (8, 2**18, 2, "bfloat16"),
]
# Not in the list: more M = 1 rows so that accelerated-scan's CUDA "warp" kernel
# (T <= 65536 only) has something to run on, and the T sweep.
GPU_EXTRA: List[Shape] = [(64, 2**16, 1, "float32")]
GPU_SWEEP: List[Shape] = [(8, 2**12, 2, "float32"), (8, 2**14, 2, "float32"), (8, 2**16, 2, "float32")]

# --lpc-quick (CI smoke test): tiny shapes that still reach every implementation and path.
CPU_QUICK: List[Shape] = [(2, 2**10, 2, "float32"), (2, 2**10, 1, "float32")]
GPU_QUICK: List[Shape] = [
    (2, 2**10, 2, "float32"),
    (2, 2**10, 1, "float32"),
    (2, 2**10, 2, "complex64"),
    (2, 2**10, 2, "bfloat16"),
]

TORCH_LOOP_MAX_T = 4096  # the plain PyTorch loop only runs up to here

CPU_IMPLS = ("copy", "torchlpc", "tritonlpc", "torch-loop")
GPU_IMPLS = ("copy", "torchlpc", "tritonlpc", "torch-loop", "accelerated-scan", "accelerated-scan-warp")


def shapes_for(device: str, quick: bool) -> List[Shape]:
    if device == "cpu":
        return list(CPU_QUICK) if quick else sorted(set(CPU_MATRIX + CPU_SWEEP), key=_shape_order(CPU_MATRIX))
    return list(GPU_QUICK) if quick else sorted(set(GPU_MATRIX + GPU_EXTRA + GPU_SWEEP), key=_shape_order(GPU_MATRIX))


def _shape_order(matrix: List[Shape]) -> Callable[[Shape], Tuple]:
    # issue's matrix first, in its order; then the extra and sweep shapes by T
    def key(s: Shape) -> Tuple:
        return (0, matrix.index(s), 0) if s in matrix else (1, s[1], s[0])

    return key


def impls_for(device: str, shape: Shape) -> List[str]:
    B, T, M, dtype = shape
    out = []
    for impl in CPU_IMPLS if device == "cpu" else GPU_IMPLS:
        if impl == "torch-loop" and T > TORCH_LOOP_MAX_T:
            continue
        if impl.startswith("accelerated-scan") and (M != 1 or dtype != "float32"):
            continue
        out.append(impl)
    return out


@dataclasses.dataclass(frozen=True)
class Case:
    device: str  # "cpu" | "cuda"
    B: int
    T: int
    M: int
    dtype: str
    direction: str  # "fwd" | "fwd+bwd"
    impl: str

    @property
    def id(self) -> str:
        return f"{self.device}-{self.direction}-B{self.B}-T{self.T}-M{self.M}-{self.dtype}-{self.impl}"

    @property
    def group(self) -> str:
        return f"{self.device} {self.direction} B={self.B} T={self.T} M={self.M} {self.dtype}"

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]


def all_cases(quick: bool) -> List[Case]:
    cases = []
    for device in ("cpu", "cuda"):
        for shape in shapes_for(device, quick):
            for direction in DIRECTIONS:
                for impl in impls_for(device, shape):
                    cases.append(Case(device, *shape, direction, impl))
    return cases


# ----------------------------------------------------------------------------------------------
# tritonlpc.signal cases (bench/test_signal.py; the GPU session selects them by id)
# ----------------------------------------------------------------------------------------------
SIGNAL_SHAPE, SIGNAL_QUICK_SHAPE = (8, 2**16), (2, 2**10)
SIGNAL_CUDA_SHAPES = ((8, 2**16), (1, 2**20))  # a few long rows: one lane a row leaves a GPU idle


def signal_cases(device: str, quick: bool) -> List[Tuple[str, Tuple[Any, ...]]]:
    """``(id, (direction, op, dtype, impl, B, T, device))`` of every ``tritonlpc.signal`` benchmark
    on ``device``: forward against scipy (CPU only), float64 and float32; forward + backward of the
    time-invariant path against the time-varying one, float32; on CUDA also the time-invariant
    path on its one-pass kernels (``-onepass``), the baseline of the planned time-parallel one."""
    cpu = device == "cpu"
    kinds = []
    for op in ("lfilter", "sosfilt"):
        kinds += [
            ("fwd", op, dt, impl)
            for dt in ("float64", "float32")
            for impl in (("tritonlpc", "scipy") if cpu else ("tritonlpc", "tritonlpc-onepass"))
        ]
        fwdbwd = (
            ("time-invariant", "time-varying") if cpu else ("time-invariant", "time-invariant-onepass", "time-varying")
        )
        kinds += [("fwd+bwd", op, "float32", impl) for impl in fwdbwd]
    shapes = [SIGNAL_QUICK_SHAPE if quick else SIGNAL_SHAPE] if cpu else SIGNAL_CUDA_SHAPES
    return [
        (f"{device}-{op}-B{B}-T{T}-{dt}-{d}-{impl}", (d, op, dt, impl, B, T, device))
        for B, T in shapes
        for d, op, dt, impl in kinds
    ]


# ----------------------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------------------
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    name = platform.processor()
    if name:
        return name
    try:
        from cpuinfo import get_cpu_info  # installed with pytest-benchmark

        return get_cpu_info().get("brand_raw") or "unknown-cpu"
    except Exception:
        return "unknown-cpu"


def device_name(device: str) -> str:
    """The device's name as results report it: the CPU model, or the CUDA device's name."""
    if device == "cuda":
        return torch.cuda.get_device_name(torch.cuda.current_device())
    return cpu_name()


def slugify(name: str) -> str:
    name = re.sub(r"\((r|tm|c)\)", "", name, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def device_slug(device: str) -> str:
    """Directory name under bench/results/: ``nvidia-h100-80gb-hbm3``, ``intel-xeon-processor-2cpu``."""
    if device == "cuda":
        return slugify(device_name("cuda"))
    return f"{slugify(cpu_name())}-{os.cpu_count() or 0}cpu"


def last_level_cache_bytes(device: str) -> int:
    if device == "cuda":
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return int(getattr(props, "L2_cache_size", 0) or 50 * 2**20)
    best = 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:].upper(), 1)
        value = int(size.rstrip("KMGkmg")) * mult
        if level >= 3 or best == 0:
            best = max(best, value) if level >= 3 else value
    return best or 32 * 2**20


def rotation_budget(device: str) -> int:
    """Upper bound on the bytes of all rotated input sets of one benchmark."""
    if device == "cuda":
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
        return int(min(8 * 2**30, total // 10))
    return 512 * 2**20  # at least this machine's (shared) L3; more makes input generation slow


def n_sets_for(device: str, set_bytes: int) -> int:
    """How many distinct input sets to rotate through so that together they overflow the last
    level cache twice (at least 2, within the memory budget)."""
    want = math.ceil(2 * max(last_level_cache_bytes(device), 32 * 2**20) / max(set_bytes, 1))
    cap = max(2, rotation_budget(device) // max(set_bytes, 1))
    return int(max(2, min(want, cap)))


# ----------------------------------------------------------------------------------------------
# Inputs: stable, slowly varying coefficients (tritonlpc.testing.stable_coefficients with 8
# knots) made on the device from a fixed seed
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class InputSet:
    x: torch.Tensor  # (B, T)
    a: torch.Tensor  # (B, T, M)
    g: Optional[torch.Tensor]  # (B, T) upstream gradient, fwd+bwd only


def make_input_sets(case: Case, n_sets: int, seed: int = 0) -> List[InputSet]:
    """``n_sets`` distinct input sets, generated in one go as ``n_sets * B`` rows and split."""
    dtype, dev = case.torch_dtype, case.device
    rows = n_sets * case.B
    cplx = dtype.is_complex
    from tritonlpc.testing import stable_coefficients  # imported here: see the module docstring

    g = torch.Generator(device=dev).manual_seed(seed)
    a = stable_coefficients(
        rows, case.T, case.M, complex_poles=cplx, dtype=torch.float32, device=dev, n_knots=8, generator=g
    )
    a = a.to(dtype)
    g = torch.Generator(device=dev).manual_seed(seed + 1)
    x = torch.randn(rows, case.T, device=dev, dtype=torch.complex64 if cplx else torch.float32, generator=g).to(dtype)
    gy = None
    if case.direction == "fwd+bwd":
        gy = torch.randn(rows, case.T, device=dev, dtype=x.dtype, generator=g).to(dtype)
    B = case.B
    return [
        InputSet(x[i * B : (i + 1) * B], a[i * B : (i + 1) * B], gy[i * B : (i + 1) * B] if gy is not None else None)
        for i in range(n_sets)
    ]


def element_size(dtype: str) -> int:
    return torch.empty((), dtype=DTYPES[dtype]).element_size()


def min_bytes(B: int, T: int, M: int, dtype: str, direction: str) -> int:
    per_sample = (M + 2) if direction == "fwd" else (3 * M + 5)
    return B * T * per_sample * element_size(dtype)


def set_bytes(case: Case) -> int:
    n = case.B * case.T * (case.M + 1 + (1 if case.direction == "fwd+bwd" else 0))
    return n * element_size(case.dtype)


# ----------------------------------------------------------------------------------------------
# Implementations
# ----------------------------------------------------------------------------------------------
class Unavailable(Exception):
    """An implementation cannot run here; the benchmark is skipped with this reason."""


def torch_loop(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Plain PyTorch: one small op chain per time step (differentiable by autograd)."""
    B, T, M = a.shape
    state = x.new_zeros(B, M)  # (y[n-1], ..., y[n-M])
    ys = []
    for n in range(T):
        yn = x[:, n] - (a[:, n] * state).sum(1)
        ys.append(yn)
        state = torch.cat([yn[:, None], state[:, :-1]], 1)
    return torch.stack(ys, 1)


@functools.cache
def _torchlpc(device: str):
    try:
        import torchlpc  # noqa: PLC0415
    except Exception as exc:  # not installed, or its extension failed to import
        raise Unavailable(f"torchlpc is not installed ({exc.__class__.__name__}: {exc})") from None
    if not getattr(torchlpc, "EXTENSION_LOADED", False):
        raise Unavailable("torchlpc is installed without its C++/CUDA extension (it would fall back to Numba)")
    key = "CUDA" if device == "cuda" else "CPU"
    try:
        has = torch._C._dispatch_has_kernel_for_dispatch_key("torchlpc::lpc", key)
    except Exception:
        has = True
    if not has:
        raise Unavailable(f"torchlpc's extension has no {key} kernel (built without {key})")
    return torchlpc


@functools.cache
def _accelerated_scan(variant: str):
    """``accelerated_scan`` scan function: "triton" (any T) or "warp" (CUDA C++, built at import)."""
    names = ["accelerated_scan.scalar", "accelerated_scan.triton"] if variant == "triton" else ["accelerated_scan.warp"]
    errors = []
    for name in names:
        try:
            return importlib.import_module(name).scan
        except ModuleNotFoundError as exc:
            errors.append(f"{name}: {exc}")
        except Exception as exc:  # e.g. the warp kernel fails to compile (no nvcc)
            errors.append(f"{name}: {exc.__class__.__name__}: {str(exc)[:200]}")
    raise Unavailable("accelerated-scan is not available (" + "; ".join(errors) + ")")


def tritonlpc_version() -> str:
    try:
        import tritonlpc  # noqa: PLC0415

        return tritonlpc.__version__
    except Exception:
        return "unavailable"


class Impl:
    """How one implementation runs a case: ``prepare`` (untimed) and ``forward``."""

    name = ""
    backend = ""

    def check(self, case: Case) -> None:
        """Raise :class:`Unavailable` if this implementation cannot run the case here."""

    def prepare(self, s: InputSet, direction: str) -> Tuple[Tuple[torch.Tensor, ...], Tuple[torch.Tensor, ...]]:
        """``(forward args, tensors to differentiate)`` for one input set."""
        x, a = s.x, s.a
        if direction == "fwd+bwd":
            x, a = x.detach().requires_grad_(), a.detach().requires_grad_()
            return (x, a), (x, a)
        return (x, a), ()

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output_for_check(self, y: torch.Tensor, case: Case) -> torch.Tensor:
        return y


class TritonLPC(Impl):
    name = "tritonlpc"

    def __init__(self, device: str):
        import tritonlpc  # noqa: PLC0415  (the product: an import error must fail, not skip)

        self.mod = tritonlpc
        self.backend = "numba" if device == "cpu" else "triton"

    def forward(self, x, a):
        with self.mod.use_backend(self.backend):
            return self.mod.sample_wise_lpc(x, a)


class TorchLPC(Impl):
    name = "torchlpc"

    def __init__(self, device: str):
        self.mod = _torchlpc(device)
        self.backend = "cuda-ext" if device == "cuda" else "cpp-ext"

    def forward(self, x, a):
        return self.mod.sample_wise_lpc(x, a)


class TorchLoop(Impl):
    name = "torch-loop"
    backend = "torch"

    def check(self, case: Case) -> None:
        if case.T > TORCH_LOOP_MAX_T:
            raise Unavailable(f"the plain PyTorch loop only runs at T <= {TORCH_LOOP_MAX_T}")

    def forward(self, x, a):
        return torch_loop(x, a)


class AcceleratedScan(Impl):
    """``h[t] = gates[t] h[t-1] + tokens[t]`` with gates = -a[..., 0], tokens = x (M = 1 only)."""

    def __init__(self, variant: str):
        self.variant = variant
        self.name = "accelerated-scan" if variant == "triton" else "accelerated-scan-warp"
        self.backend = "triton" if variant == "triton" else "cuda-warp"

    def check(self, case: Case) -> None:
        if case.device != "cuda":
            raise Unavailable("accelerated-scan runs on CUDA only")
        if case.M != 1:
            raise Unavailable("accelerated-scan solves first-order recurrences (M = 1) only")
        if self.variant == "warp" and not (32 <= case.T <= 65536 and case.T & (case.T - 1) == 0):
            raise Unavailable("accelerated-scan's warp kernel needs T a power of 2 in [32, 65536]")
        self.scan = _accelerated_scan(self.variant)

    def prepare(self, s, direction):
        B, T = s.x.shape
        gates = (-s.a[..., 0]).reshape(B, 1, T).contiguous()
        tokens = s.x.reshape(B, 1, T).contiguous()
        if direction == "fwd+bwd":
            gates, tokens = gates.requires_grad_(), tokens.requires_grad_()
            return (gates, tokens), (gates, tokens)
        return (gates, tokens), ()

    def forward(self, gates, tokens):
        return self.scan(gates, tokens)

    def output_for_check(self, y, case):
        return y.reshape(case.B, case.T)


def make_impl(case: Case) -> Impl:
    """The implementation object for a case (raises :class:`Unavailable` to skip)."""
    if case.device == "cuda" and not torch.cuda.is_available():
        raise Unavailable("CUDA is not available on this machine")
    if case.impl == "tritonlpc":
        impl: Impl = TritonLPC(case.device)
    elif case.impl == "torchlpc":
        impl = TorchLPC(case.device)
    elif case.impl == "torch-loop":
        impl = TorchLoop()
    elif case.impl == "accelerated-scan":
        impl = AcceleratedScan("triton")
    elif case.impl == "accelerated-scan-warp":
        impl = AcceleratedScan("warp")
    else:
        raise ValueError(case.impl)
    impl.check(case)
    return impl


def make_call(impl: Impl, case: Case, sets: Sequence[InputSet]) -> Callable[[], None]:
    """A no-argument function running one call, on the next input set each time."""
    prepared = [impl.prepare(s, case.direction) for s in sets]
    if case.direction == "fwd":
        it = itertools.cycle([p[0] for p in prepared])

        def call() -> None:
            with torch.no_grad():
                impl.forward(*next(it))

    else:
        it2 = itertools.cycle([(p[0], p[1], s.g) for p, s in zip(prepared, sets)])

        def call() -> None:
            args, wrt, gy = next(it2)
            y = impl.forward(*args)
            torch.autograd.grad(y, wrt, gy.view(y.shape))

    return call


def make_copy_call(device: str, nbytes: int, n_sets: Optional[int] = None) -> Tuple[Callable[[], None], int]:
    """Device-to-device copy that moves ``nbytes`` in all (reads and writes ``nbytes/2``),
    rotating over ``n_sets`` buffer pairs (default: enough to overflow the last-level cache)."""
    half = max(nbytes // 2, 1)
    n = n_sets or n_sets_for(device, 2 * half)
    src = torch.empty(n, half, dtype=torch.uint8, device=device).random_(0, 255)
    dst = torch.zeros_like(src)  # touched: no first-touch page faults inside the timing
    pairs = itertools.cycle([(dst[i], src[i]) for i in range(n)])

    def call() -> None:
        d, s = next(pairs)
        d.copy_(s)

    return call, n


def check_output(impl: Impl, case: Case, s: InputSet) -> None:
    """Sanity anchor: the first 256 samples of 2 rows against a float64 PyTorch loop."""
    L, R = min(case.T, 256), min(case.B, 2)
    args, _ = impl.prepare(s, "fwd")
    with torch.no_grad():
        y = impl.output_for_check(impl.forward(*args), case)[:R, :L]
        wide = torch.complex128 if case.torch_dtype.is_complex else torch.float64
        ref = torch_loop(s.x[:R, :L].to(wide), s.a[:R, :L].to(wide))
    if not torch.isfinite(torch.view_as_real(y) if y.is_complex() else y.float()).all():
        raise AssertionError(f"{case.id}: non-finite output")
    from tritonlpc.testing import rel_error

    tol = {"float32": 1e-3, "complex64": 1e-3, "bfloat16": 3e-2, "float64": 1e-9}[case.dtype]
    err = rel_error(y, ref)
    if err > tol:
        raise AssertionError(f"{case.id}: output differs from the float64 loop by {err:.3g} (relative, > {tol:g})")


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------
def cuda_event_times(
    call: Callable[[], None], *, max_time: float, min_rounds: int, max_rounds: int = 2000
) -> List[float]:
    """Per-call seconds from CUDA events, calls issued back to back after warm-up.

    One start/end event pair per call; no host synchronisation between calls (as in
    ``triton.testing.do_bench``), so the host runs ahead and launch latency is hidden when the
    GPU is the bottleneck, and shows when it is not. Rounds: enough to fill ``max_time``,
    at least ``min_rounds``, at most ``max_rounds``.
    """
    call()  # compile / autotune
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    call()
    torch.cuda.synchronize()
    est = max(time.perf_counter() - t0, 1e-6)
    for _ in range(min(100, int(0.1 / est))):  # ~0.1 s more warm-up for fast calls
        call()
    rounds = int(min(max_rounds, max(min_rounds, 1, math.ceil(max_time / est))))
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    torch.cuda.synchronize()
    for i in range(rounds):
        starts[i].record()
        call()
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends)]


def wall_times(call: Callable[[], None], *, max_time: float, min_rounds: int) -> List[float]:
    """Per-call seconds with perf_counter (used only to fill the copy-ceiling cache on CPU when
    the copy benchmark itself was not selected)."""
    call()
    out: List[float] = []
    t_end = time.perf_counter() + max_time
    while len(out) < min_rounds or (time.perf_counter() < t_end and len(out) < 10000):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


class ReplayTimer:
    """A pytest-benchmark timer that replays durations measured elsewhere (CUDA events).

    pytest-benchmark times a round as ``timer()`` before and after the target; with a no-op
    target and this timer, each round's duration is the next queued measurement, so the JSON
    it writes holds the CUDA-event times with all of its usual statistics.
    """

    __name__ = "cuda_event_replay"

    def __init__(self) -> None:
        self.now = 0.0
        self.queue: List[float] = []
        self.started = False

    def load(self, durations: Sequence[float]) -> None:
        self.queue = list(durations)
        self.started = False

    def __call__(self) -> float:
        if self.started:
            self.now += self.queue.pop(0) if self.queue else 0.0
        self.started = not self.started
        return self.now


REPLAY_TIMER = ReplayTimer()


def record_cuda_times(benchmark, durations: Sequence[float]) -> None:
    """Store CUDA-event durations as this pytest-benchmark result's rounds."""
    REPLAY_TIMER.load(durations)
    benchmark.pedantic(lambda: None, rounds=len(durations), iterations=1, warmup_rounds=0)


def case_param(case: Case) -> Any:
    """``pytest.param`` for a case: CUDA cases replay CUDA-event times into pytest-benchmark."""
    import pytest  # noqa: PLC0415

    marks = []
    if case.device == "cuda":
        marks = [pytest.mark.gpu, pytest.mark.benchmark(timer=REPLAY_TIMER)]
    return pytest.param(case, id=case.id, marks=marks)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def versions() -> Dict[str, str]:
    out = {"torch": torch.__version__, "tritonlpc": tritonlpc_version()}
    for mod in ("torchlpc", "numba", "triton", "accelerated_scan"):
        try:
            from importlib.metadata import version  # noqa: PLC0415

            out[mod] = version(mod.replace("_", "-"))
        except Exception:
            pass
    return out
