"""What the results say: the papers' claims judged with intervals (``claims``), the published
tables beside ours (``papers``) and both as Markdown (``markdown``), training diagnostics
(``diagnostics``), convergence across training lengths (``convergence``), the ablation design and
its effects (``ablations``), class activation maps (``cam``) and every figure (``plots``).

May import ``nbutils.core``, ``nbutils.data`` and ``nbutils.methods``.
"""
