"""Gradient clipping against the weak losses' rare spikes (formulation ours, not in the paper).

One multi-view batch whose eq. 3 root depth is badly conditioned can give L_MC / L_B a gradient many times the
usual (WS M/H at seed 1: L_MC 5.3 against ~0.5 at main step 240, after which L_H doubled and never came back, on both
formulations that hit it). Clipping to a multiple of the running gradient norm bounds such a step without a
hand-set threshold, and without a host sync: the running norm is a device tensor.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


def clip_to_running_norm(params: Iterable[torch.nn.Parameter], running: torch.Tensor, factor: float,
                         decay: float = 0.98) -> torch.Tensor:
    """Scale the gradients of ``params`` in place so that their total L2 norm is at most ``factor`` x ``running``
    (the running mean of the clipped norms; 0 = none yet: the first call only starts it), and return the updated
    running mean (``decay`` x running + (1 - decay) x the clipped norm). Parameters without a gradient are skipped."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return running
    norm = torch.nn.utils.get_total_norm(grads)
    started = running > 0
    limit = torch.where(started, factor * running, norm)
    coef = (limit / (norm + 1e-12)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.dtype))
    clipped = torch.minimum(norm, limit)
    return torch.where(started, decay * running + (1 - decay) * clipped, clipped)
