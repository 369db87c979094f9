"""The Triton backend, organised by phase (kernels for CUDA tensors; the interpreter on CPU).

Modules:

``plan``
    Pure planning: path (tile / walk), schedule (single pass / three phase), geometry.
``launch``
    The one launcher: a call's operands (:class:`~.launch.Call`), the schedule (:func:`~.launch.run`
    over a path's :class:`~.launch.Phases`), the launch point and its recording hook.
``lang``
    Real/complex load, store and multiply helpers shared by every kernel.
``tile_scan``, ``tile_io``
    The tile path's scan math and input loads (orders ``M <= 4``).
``tile_pass``, ``tile_summary``
    Tile kernels by phase: ``tile_{fwd,rev}_pass_kernel`` and ``tile_fwd_stretch_pass_kernel`` (the
    three-phase forward); ``tile_summary_kernel`` (``REV``: the adjoint) and ``tile_carry_kernel``;
    each launched by the function beside it.
``scale``, ``tile_scaled``
    Chunk maps with a power-of-two exponent (three-phase summary and carry, both paths): the
    exponent helpers, and the tile path's scan of maps with exponents.
``walk_io``, ``walk_pass``, ``walk_summary``
    The walk path (higher orders): step helpers; ``walk_{fwd,rev}_pass_kernel``;
    ``walk_{fwd,rev}_summary_kernel``, ``walk_carry_kernel`` and the slice map.
``smooth``
    The attack/release gain smoother.
``delay``
    The delay-line effects' kernels (comb filters, fractional delay, FDN; :mod:`tritonlpc.audio.delay`).
``lti_pass``
    Time-invariant filters in one pass (``tritonlpc.signal``'s forward without gradients):
    ``lti_tdf2_pass_kernel`` (order <= 4), ``lti_sos4_pass_kernel`` (four sections a launch).
``lti_chunks``
    Their time-parallel schedule for few long rows (chunks chained by ``A^L``, forward and
    backward) and its planning, ``plan_lti``.
``backend``
    :class:`~.backend.TritonBackend` and ``BACKEND``.

Only ``plan`` imports without Triton.
"""
