"""Monotonic rational-quadratic spline with linear tails (Durkan et al. 2019), used by the duration predictor's flows.

Written without boolean indexing or in-place writes so that it exports to ONNX: the spline is
evaluated on inputs clamped to the bound and ``torch.where`` picks the identity outside it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


def _knots(unnormalized: torch.Tensor, low: float, high: float, min_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin edges (…, K+1) from ``low`` to ``high`` and bin sizes (…, K)."""
    k = unnormalized.shape[-1]
    size = min_size + (1 - min_size * k) * torch.softmax(unnormalized, dim=-1)
    cum = torch.cumsum(size, dim=-1)
    inner = (high - low) * cum[..., :-1] + low
    edges = torch.cat([torch.full_like(cum[..., :1], low), inner, torch.full_like(cum[..., :1], high)], dim=-1)
    return edges, edges[..., 1:] - edges[..., :-1]


def _bin_index(edges: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    k = edges.shape[-1] - 1
    idx = torch.sum((x[..., None] >= edges[..., 1:-1]).long(), dim=-1)
    return idx.clamp(0, k - 1)[..., None]


def rational_quadratic(x: torch.Tensor, widths_u: torch.Tensor, heights_u: torch.Tensor, derivs_u: torch.Tensor,
                       inverse: bool, tail_bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Transform ``x`` (any shape) with the spline given per element by (…, K) widths/heights, (…, K-1) derivatives.

    Returns ``(y, log|dy/dx|)`` (for ``inverse``: ``(x, -log|dy/dx|)`` at the solution).
    """
    inside = (x >= -tail_bound) & (x <= tail_bound)
    xc = x.clamp(-tail_bound, tail_bound)
    const = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)  # softplus(const) + MIN_DERIVATIVE == 1: linear tails
    derivs = MIN_DERIVATIVE + F.softplus(F.pad(derivs_u, (1, 1), value=const))
    cw, w = _knots(widths_u, -tail_bound, tail_bound, MIN_BIN_WIDTH)
    ch, h = _knots(heights_u, -tail_bound, tail_bound, MIN_BIN_HEIGHT)
    idx = _bin_index(ch if inverse else cw, xc)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, idx)[..., 0]

    x_k, w_k, y_k, h_k = pick(cw), pick(w), pick(ch), pick(h)
    delta = h_k / w_k
    d0, d1 = pick(derivs[..., :-1]), pick(derivs[..., 1:])
    s = d0 + d1 - 2 * delta
    if inverse:
        a = (xc - y_k) * s + h_k * (delta - d0)
        b = h_k * d0 - (xc - y_k) * s
        c = -delta * (xc - y_k)
        disc = (b * b - 4 * a * c).clamp_min(0.0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = theta * w_k + x_k
    else:
        theta = (xc - x_k) / w_k
        out = y_k + h_k * (delta * theta**2 + d0 * theta * (1 - theta)) / (delta + s * theta * (1 - theta))
    tt = theta * (1 - theta)
    denom = delta + s * tt
    num = delta**2 * (d1 * theta**2 + 2 * delta * tt + d0 * (1 - theta) ** 2)
    logdet = torch.log(num) - 2 * torch.log(denom)
    if inverse:
        logdet = -logdet
    return torch.where(inside, out, x), torch.where(inside, logdet, torch.zeros_like(logdet))
