"""The backend contract in code: :class:`Backend` owns the public entry points.

A backend subclasses :class:`Backend` and supplies only its kernels, which fill outputs that the
base class allocated (:meth:`Backend._forward`, :meth:`Backend._adjoint`, :meth:`Backend._smooth`)
and the slice map :meth:`Backend.summary`. The base class checks the device and
the arguments, allocates the outputs and returns early for empty shapes, so every backend behaves
the same at the edges. The contract's prose is in :mod:`tritonlpc.backends`; the math in
:mod:`tritonlpc._reference`.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .._reference import interpolate, interpolate_transpose

__all__ = ["AdjointCall", "Backend", "Grads", "SliceMap", "check_knob"]

Grads = Tuple[Tensor, Optional[Tensor], Optional[Tensor]]


class AdjointCall(NamedTuple):
    """The arguments of :meth:`Backend._adjoint`, as :meth:`Backend.backward` and
    :meth:`Backend.reverse` prepared them: ``g (B,T)`` and ``a (B,T,M)`` (or frames with the
    knob ``hop``) to read, ``u (B,T)`` to fill, ``grad_a`` (``a``'s shape) and ``grad_zi (B,M)``
    to fill when given (``y (B,T)`` and ``zi (B,M)`` are then given with ``grad_a``)."""

    g: Tensor
    a: Tensor
    y: Optional[Tensor]
    zi: Optional[Tensor]
    u: Tensor
    grad_a: Optional[Tensor]
    grad_zi: Optional[Tensor]
    conj_a: bool
    neg_a: bool


class SliceMap(NamedTuple):
    """A slice's affine map ``s_end = P^ 2**e s_start + h`` (:meth:`Backend.summary`), or its
    adjoint's constant part ``k`` in ``h`` (``P^`` and ``e`` then ``None``).

    ``P^ (B,M,M)`` is the transition's mantissa and ``e (B,)`` (int32) its power-of-two exponent:
    the transition of an unstable slice may overflow where its product with the actual state
    does not. Apply it with :func:`tritonlpc._reference.apply_map` (``apply_map(P, h, s, e)``).
    """

    P: Optional[Tensor]
    h: Tensor
    e: Optional[Tensor]


def check_knob(name: str, value: Optional[int], pow2: bool = False) -> None:
    """A schedule knob is ``None`` (automatic) or a positive int (a power of two if ``pow2``).

    Raises:
        ValueError: otherwise, naming the knob.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (pow2 and value & (value - 1)):
        kind = "a power of two" if pow2 else "a positive int"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


class Backend(abc.ABC):
    """One compute backend (``numba`` on CPU, ``triton`` on CUDA).

    Public methods (the contract, the same for every backend; see :mod:`tritonlpc.backends`):
    :meth:`forward`, :meth:`backward`, :meth:`reverse`, :meth:`smooth` and :meth:`summary`. Keyword arguments beyond the contract's (``**knobs``) go to the backend's
    kernels unchanged: schedule overrides that tests and benchmarks use (unknown ones raise
    ``TypeError``, bad values ``ValueError``).

    Inputs are taken as :mod:`tritonlpc._validation` checked them (shapes, one dtype, one
    device); the base class checks only what the kernels cannot see (the device kind, and that
    ``backward`` has what ``grad_a`` needs).
    """

    name: ClassVar[str]
    supports_half: ClassVar[bool] = False
    """Computes float16/bfloat16 inputs as they are (accumulating in float32); otherwise the
    public functions cast them to float32 first."""
    supports_hop: ClassVar[bool] = False
    """Interpolates control-rate coefficients (``hop=``) inside its kernels; otherwise the base
    class interpolates them to every sample in torch (:func:`tritonlpc._reference.interpolate`)
    and reduces the per-sample gradient to the frames (a `(B,T,M)` tensor each way)."""

    # ------------------------------------------------------------------ what a backend supplies
    def check_device(self, t: Tensor) -> None:  # noqa: B027 (an optional hook: any device by default)
        """Raise ``RuntimeError`` if this backend cannot run on ``t``'s device (default: any)."""

    def _empty(self, like: Tensor, shape: Tuple[int, ...], dtype: Optional[torch.dtype] = None) -> Tensor:
        """A new contiguous tensor of ``shape`` on ``like``'s device, of ``dtype`` (default:
        ``like``'s). A backend on one device may override it with a cheaper allocation."""
        return like.new_empty(shape) if dtype is None else like.new_empty(shape, dtype=dtype)

    @abc.abstractmethod
    def _forward(self, x: Tensor, a: Tensor, zi: Tensor, y: Tensor, conj_a: bool, neg_a: bool, **knobs: Any) -> None:
        """Fill ``y (B,T)`` with the forward filter (``B, T >= 1``; arguments as :meth:`forward`)."""

    @abc.abstractmethod
    def _adjoint(self, c: AdjointCall, **knobs: Any) -> None:
        """Fill ``c.u (B,T)`` with the reverse filter, and ``c.grad_a (B,T,M)`` / ``c.grad_zi (B,M)``
        when they are given (``c.y`` and ``c.zi`` are then given with ``grad_a``); ``B, T >= 1``."""

    @abc.abstractmethod
    def _smooth(self, f: Tensor, at: Tensor, rt: Tensor, zi: Tensor, g: Tensor, zeta: Tensor) -> None:
        """Fill ``g (B,T)`` and ``zeta (B,T)`` (bool) as :meth:`smooth` describes; contiguous
        inputs, ``B, T >= 1``."""

    # ------------------------------------------------------------------ the contract
    def forward(
        self,
        x: Tensor,
        a: Tensor,
        zi: Tensor,
        conj_a: bool = False,
        neg_a: bool = False,
        *,
        hop: Optional[int] = None,
        **knobs: Any,
    ) -> Tensor:
        """``y[n] = x[n] - sum_i A[n,i-1] y[n-i]``, ``y[-k] = zi[k-1]``; ``A = a`` (``-a`` if
        ``neg_a``; conjugated if ``conj_a``).

        ``x (B,T)``, ``a (B,T,M)`` (or control frames ``(B,F,M)`` every ``hop`` samples, see
        :func:`tritonlpc._reference.interpolate`), ``zi (B,M)``: one dtype and device, any
        strides (``a`` is read in place). Returns a new contiguous ``y (B,T)``.
        """
        self.check_device(x)
        B, T = x.shape
        if hop is not None:
            if not self.supports_hop:
                return self.forward(x, interpolate(a, hop, T), zi, conj_a, neg_a, **knobs)
            knobs["hop"] = hop
        y = self._empty(x, (B, T))
        if B and T:
            if knobs:
                self._forward(x, a, zi, y, bool(conj_a), bool(neg_a), **knobs)
            else:  # a plain call: no keyword dictionary to unpack (small calls count every step)
                self._forward(x, a, zi, y, bool(conj_a), bool(neg_a))
        return y

    def backward(
        self,
        g: Tensor,
        a: Tensor,
        y: Optional[Tensor],
        zi: Optional[Tensor],
        need_grad_a: bool,
        need_grad_zi: bool,
        neg_a: bool = False,
        *,
        hop: Optional[int] = None,
        **knobs: Any,
    ) -> Grads:
        """Fused vector-Jacobian product of :meth:`forward` (``conj_a=False``) in torch's
        convention for complex numbers.

        ``g = dL/dy (B,T)``; ``y`` (the forward's output) and ``zi`` may be ``None`` unless
        ``need_grad_a``. Returns new contiguous ``(grad_x (B,T), grad_a or None,
        grad_zi (B,M) or None)``; ``grad_a`` has ``a``'s shape (`(B,T,M)`, or `(B,F,M)` with
        ``hop``: the frames' gradient); with ``neg_a``, it is w.r.t. the ``a`` passed in.

        Raises:
            ValueError: ``need_grad_a`` without ``y`` or ``zi``.
        """
        if need_grad_a and (y is None or zi is None):
            raise ValueError("backward needs y and zi to compute grad_a (need_grad_a=True)")
        if hop is not None and not self.supports_hop:
            F = a.shape[1]
            gx, ga, gzi = self.backward(
                g, interpolate(a, hop, g.shape[1]), y, zi, need_grad_a, need_grad_zi, neg_a, **knobs
            )
            return gx, interpolate_transpose(ga, hop, F) if ga is not None else None, gzi
        if hop is not None:
            knobs["hop"] = hop
        return self._run_adjoint(g, a, y, zi, bool(need_grad_a), bool(need_grad_zi), True, bool(neg_a), knobs)

    def reverse(self, g: Tensor, a: Tensor, conj_a: bool = False, neg_a: bool = False, **knobs: Any) -> Tensor:
        """The reverse filter ``u[n] = g[n] - sum_i A[n+i,i-1] u[n+i]`` (``A`` as in
        :meth:`forward`, conjugated only if ``conj_a``; frames with the keyword ``hop``, as
        :meth:`forward`): ``g (B,T)``, ``a (B,T,M)`` -> new ``u (B,T)``."""
        if knobs.get("hop") is not None and not self.supports_hop:
            a = interpolate(a, knobs.pop("hop"), g.shape[1])
        return self._run_adjoint(g, a, None, None, False, False, bool(conj_a), bool(neg_a), knobs)[0]

    def smooth(self, f: Tensor, at: Tensor, rt: Tensor, zi: Tensor) -> Tuple[Tensor, Tensor]:
        """The attack/release gain smoother (the data-dependent forward of
        :class:`tritonlpc.audio.AttackRelease`)::

            zeta[n] = f[n] < g[n-1],   beta[n] = at if zeta[n] else rt,
            g[n]    = beta[n] f[n] + (1 - beta[n]) g[n-1],    g[-1] = zi

        ``f (B,T)``, ``at, rt, zi (B,)`` of one real dtype and device -> new ``(g (B,T),
        zeta (B,T) bool)``.
        """
        self.check_device(f)
        B, T = f.shape
        g = self._empty(f, (B, T))
        zeta = self._empty(f, (B, T), torch.bool)
        if B and T:
            self._smooth(f.contiguous(), at.contiguous(), rt.contiguous(), zi.contiguous(), g, zeta)
        return g, zeta

    @abc.abstractmethod
    def summary(
        self, v: Tensor, a: Tensor, *, neg_a: bool = False, adjoint: bool = False, hop: Optional[int] = None
    ) -> SliceMap:
        """The affine map of a slice (:func:`tritonlpc._reference.slice_map`), or its adjoint's
        constant part (:func:`tritonlpc._reference.adjoint_slice_map`), in one pass over the slice.

        ``v (B,T)``: the input ``x``, or ``g = dL/dy`` if ``adjoint``; ``a (B,T,M)`` (or control
        frames ``(B,F,M)`` every ``hop`` samples, as in :meth:`forward`), any strides, read in
        place; ``A = -a`` if ``neg_a``. ``T`` may be 0 (``P = I``, ``h = k = 0``) or
        smaller than ``M``. Returns a new ``SliceMap(P^ (B,M,M), h (B,M), e (B,) int32)`` with
        ``P = P^ 2**e`` (``P^`` and ``h`` in ``v``'s dtype; ``e`` is 0 unless the transition grows
        large), or ``SliceMap(None, k (B,M), None)`` if ``adjoint``.
        """

    def __repr__(self) -> str:
        return f"<tritonlpc {self.name} backend>"

    # ------------------------------------------------------------------ helpers
    def _run_adjoint(
        self,
        g: Tensor,
        a: Tensor,
        y: Optional[Tensor],
        zi: Optional[Tensor],
        need_a: bool,
        need_zi: bool,
        conj_a: bool,
        neg_a: bool,
        knobs: Any,
    ) -> Grads:
        self.check_device(g)
        B, T = g.shape
        M = a.shape[2]
        u = self._empty(g, (B, T))
        grad_a = None
        if need_a:  # a's shape (frames with hop: F >= 1 even when T == 0, and then zero)
            grad_a = self._empty(g, tuple(a.shape)) if T else self._empty(g, tuple(a.shape)).zero_()
        grad_zi = None
        if need_zi:  # the kernels write all of grad_zi when T > 0; with T == 0 it is zero
            grad_zi = self._empty(g, (B, M)) if T else self._empty(g, (B, M)).zero_()
        if B and T:
            c = AdjointCall(g, a, y, zi, u, grad_a, grad_zi, conj_a, neg_a)
            if knobs:
                self._adjoint(c, **knobs)
            else:
                self._adjoint(c)
        return u, grad_a, grad_zi
