"""Neural collapse: within-class variability (NC1) and the geometry of the class means (NC2).

Papyan, Han & Donoho (2020) saw four things happen to the last-layer features of classifiers
trained past zero error: the features of a class collapse to their class mean (NC1), and the
class means, centred on their global mean, form a simplex equiangular tight frame (NC2: equal
norms, pairwise cosines ``-1/(C-1)``). Here both are measured on any representation with probe
labels, with the definitions of the code that accompanies the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import describe, fail, warn
from ._arrays import Batch, as_batch, centre, check_dtype, label_array, warn_no_variance
from ._memory import check_memory, square_bytes
from ._precision import at_full_precision


def class_codes(labels: Any, n: int, *, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes ``(n,)`` in ``0 … C-1`` and the ``C`` sorted class labels.

    ``labels``: one class per sample of ``x`` (ints, bools, strings, or finite floats), as a
    list, numpy array or tensor of shape ``(n,)`` or ``(n, 1)``; at least 2 classes.
    """
    labels = label_array(labels, func=func, what="an array of class labels")
    if labels.ndim != 1 or labels.shape[0] != n:
        fail(
            "labels",
            func,
            f"an array of shape ({n},) (one class label per sample of x)",
            f"shape {labels.shape}",
        )
    if labels.dtype.kind == "c":
        fail(
            "labels", func, "real or string class labels", f"dtype {labels.dtype}", error=TypeError
        )
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        fail("labels", func, "finite class labels", "NaN or Inf values")
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # unorderable mixed objects
        fail("labels", func, "sortable class labels", f"dtype {labels.dtype}", error=TypeError)
    if classes.size < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        fail("labels", func, "labels of at least 2 classes", f"1 class ({describe(only)})")
    return codes.reshape(-1).astype(np.int64), classes


@dataclass(frozen=True)
class ClassMeans:
    """The class means of validated data: what NC1 and NC2 are computed from."""

    batch: Batch
    data: torch.Tensor  # (B, N, D): centred, scaled to magnitude 1
    codes: torch.Tensor  # (N,) int64, on the data's device
    class_means: torch.Tensor  # (B, C, D): the class means μ_c (of ``data``)
    means: torch.Tensor  # (B, C, D): the class means centred on their mean, μ_c - μ_G
    flat: torch.Tensor  # (B,) bool: the data have no variance
    coincide: torch.Tensor  # (B,) bool: the class means coincide (up to rounding)

    @property
    def n_classes(self) -> int:
        return self.means.shape[-2]


def class_means(x: Any, labels: Any, *, func: str, dtype: torch.dtype | None) -> ClassMeans:
    """Validate ``x`` and ``labels``, and compute the centred class means."""
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    codes_np, classes = class_codes(labels, batch.n_samples, func=func)
    data, magnitude, flat = centre(batch.data)
    scale = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    data = data.div_(scale.reshape(-1, 1, 1))  # scale-free: every entry at most 1
    codes = torch.as_tensor(codes_np, device=data.device)
    counts = torch.bincount(codes, minlength=classes.size).to(data.dtype)
    sums = data.new_zeros(data.shape[0], classes.size, data.shape[-1]).index_add_(1, codes, data)
    raw = sums / counts[:, None]
    means = raw - raw.mean(dim=-2, keepdim=True)
    # a class mean of n_c values is within n_c ulps of its exact value: means that differ by
    # less than N ulps (of the magnitude 1) are the same point
    tolerance = batch.n_samples * torch.finfo(data.dtype).eps
    coincide = means.abs().amax(dim=(-2, -1)) <= tolerance
    return ClassMeans(batch, data, codes, raw, means, flat, coincide & ~flat)


@at_full_precision
def nc1(x: Any, labels: Any, *, dtype: torch.dtype | None = None) -> Any:
    r"""Within-class variability relative to the spread of the class means (NC1).

    .. math::

        \mathrm{NC1} = \frac{1}{C} \operatorname{tr}\big(Σ_W Σ_B^{\dagger}\big), \qquad
        Σ_W = \frac{1}{N} \sum_{c} \sum_{i: y_i = c} (x_i - μ_c)(x_i - μ_c)^\top, \qquad
        Σ_B = \frac{1}{C} \sum_{c} (μ_c - μ_G)(μ_c - μ_G)^\top

    where ``μ_c`` is the mean of class ``c``, ``μ_G = (1/C) Σ_c μ_c`` the global mean, and
    ``†`` the Moore–Penrose pseudo-inverse. 0 when every sample sits on its class mean (neural
    collapse); larger as the classes overlap. Invariant to translation, rotation and scale of
    ``x`` and to relabelling the classes.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
        numpy or torch, any device.
    labels : array of shape (n_samples,) or (n_samples, 1)
        One class per sample (ints, bools, strings or finite floats; list, numpy or torch),
        shared by every matrix of a batch; at least 2 classes.
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    float, or array of shape (batch,)
        ``>= 0``. ``inf`` when the class means coincide (``Σ_B = 0``) while the samples vary,
        ``nan`` when the data have no variance; each with a
        :class:`~repscope.DegenerateInputWarning`.

    Notes
    -----
    The definitions of Papyan, Han & Donoho (2020) as their published code computes them:
    ``Σ_W`` pools the within-class scatter of all ``N`` samples (for balanced classes, the
    average of the classes' covariances), the covariances divide by the count (not the count
    minus 1), and ``μ_G`` is the mean of the class means (for balanced classes, the mean of
    all samples). A class of one sample adds no within-class scatter and still counts in
    ``Σ_B``. The pseudo-inverse keeps the ``min(C - 1, D)`` largest eigenvalues of ``Σ_B``
    above ``max(C, D) ε`` times the largest (the code inverts the top ``C - 1`` with
    ``scipy.sparse.linalg.svds``; they differ only when the class means span fewer than
    ``C - 1`` dimensions, where inverting rounding would blow up).

    Computed without any ``D × D`` matrix: with the centred class means ``M`` ``(C, D)`` of
    thin SVD ``U S V^\top`` (kept part), ``tr(Σ_W Σ_B^†) / C = ‖Z V S^{-1}‖_F^2 / N``, where
    the rows of ``Z`` are ``x_i - μ_{y_i}``: time ``O(N D C)``, memory ``O(N D)``.

    References
    ----------
    V. Papyan, X. Y. Han, D. L. Donoho. "Prevalence of neural collapse during the terminal
    phase of deep learning training." PNAS 117 (40), 24652–24663 (2020).

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry.collapse import nc1
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 50)
    >>> centres = rng.normal(size=(4, 16))
    >>> noise = rng.normal(size=(200, 16))
    >>> round(nc1(centres[labels] + noise, labels), 2)
    0.24
    >>> round(nc1(centres[labels] + 0.1 * noise, labels), 4)  # closer to collapse
    0.0024
    >>> round(nc1(centres[labels], labels), 12)  # collapsed: every sample on its class mean
    0.0
    """
    func = "nc1"
    cm = class_means(x, labels, func=func, dtype=dtype)
    c, d = cm.n_classes, cm.data.shape[-1]
    _, s, vh = torch.linalg.svd(cm.means, full_matrices=False)  # s (B, r), vh (B, r, D)
    rank = min(c - 1, d)
    s, vh = s[..., :rank], vh[..., :rank, :]
    rtol = max(c, d) * torch.finfo(s.dtype).eps
    keep = s > rtol * s[..., :1]
    inverse = torch.where(keep, 1.0 / s.clamp_min(torch.finfo(s.dtype).tiny), 0.0)
    within = cm.data - cm.class_means[:, cm.codes]  # (B, N, D): x_i - μ_{y_i}
    projected = (within @ vh.mT) * inverse[:, None, :]  # (B, N, rank)
    value = projected.square().sum(dim=(-2, -1)) / cm.batch.n_samples
    value = torch.where(cm.coincide, torch.inf, value)
    value = torch.where(cm.flat, torch.nan, value)
    warn_no_variance(cm.flat, func, "NC1 is nan (0 / 0)")
    _warn_coincide(cm.coincide, func, "NC1 is inf (Σ_B = 0)")
    return cm.batch.output(value)


@dataclass(frozen=True)
class ClassMeanGeometry:
    """How far the centred class means are from a simplex equiangular tight frame (NC2).

    ``norm_variation`` and ``etf_deviation`` are floats for one matrix, arrays ``(batch,)`` for
    a batch; both are 0 for a simplex ETF.

    Attributes
    ----------
    norm_variation : float or array
        Coefficient of variation of the norms ``‖μ_c - μ_G‖``: their standard deviation (with
        ``C - 1`` in the denominator) over their mean. 0 when the means are equinorm.
    etf_deviation : float or array
        Mean over the ``C (C - 1)`` ordered pairs ``c ≠ c'`` of
        ``|cos(μ_c - μ_G, μ_{c'} - μ_G) + 1/(C - 1)|``. 0 when the means are equiangular at
        the simplex angle; at most ``C/(C - 1)``.
    n_classes : int
    """

    norm_variation: Any
    etf_deviation: Any
    n_classes: int

    def as_dict(self) -> dict[str, Any]:
        """The two measures by name (``n_classes`` left out)."""
        return {"norm_variation": self.norm_variation, "etf_deviation": self.etf_deviation}


@at_full_precision
def class_mean_geometry(
    x: Any, labels: Any, *, dtype: torch.dtype | None = None
) -> ClassMeanGeometry:
    r"""How far the class means are from a simplex equiangular tight frame (NC2).

    With ``m_c = μ_c - μ_G`` the class means centred on their mean (as in :func:`nc1`):

    .. math::

        \text{norm variation} = \frac{\operatorname{std}_c \|m_c\|}{\operatorname{mean}_c
        \|m_c\|}, \qquad
        \text{ETF deviation} = \frac{1}{C(C-1)} \sum_{c \neq c'} \Big|
        \frac{m_c^\top m_{c'}}{\|m_c\| \|m_{c'}\|} + \frac{1}{C-1} \Big|

    (``std`` with ``C - 1`` in the denominator). Both are 0 for a simplex ETF, the
    configuration of maximally separated, equinorm class means that neural collapse ends in
    (NC2). Invariant to translation, rotation and scale of ``x`` and to relabelling.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    labels : array of shape (n_samples,) or (n_samples, 1)
        As in :func:`nc1`.
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    ClassMeanGeometry
        ``nan`` values when the class means coincide (no direction to measure), with a
        :class:`~repscope.DegenerateInputWarning`. A class whose mean is the global mean has
        no direction: its cosines count as 0.

    Notes
    -----
    The "equinorm" and "equiangularity" measures of the code that accompanies Papyan, Han &
    Donoho (2020): ``torch.std(norms) / torch.mean(norms)`` and its ``coherence`` (the
    ``l1`` norm of ``G + 1/(C-1)`` off the diagonal, over ``C (C - 1)``, with ``G`` the
    Gram matrix of the normalised centred means). Memory: a ``C × C`` Gram matrix.

    References
    ----------
    V. Papyan, X. Y. Han, D. L. Donoho. "Prevalence of neural collapse during the terminal
    phase of deep learning training." PNAS 117 (40), 24652–24663 (2020).

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry.collapse import class_mean_geometry
    >>> labels = np.repeat(np.arange(3), 10)
    >>> etf = np.eye(3) - 1 / 3  # the simplex ETF of 3 classes
    >>> geometry = class_mean_geometry(5.0 * etf[labels], labels)
    >>> round(geometry.norm_variation, 9), round(geometry.etf_deviation, 9)
    (0.0, 0.0)
    """
    func = "class_mean_geometry"
    cm = class_means(x, labels, func=func, dtype=dtype)
    c = cm.n_classes
    check_memory(
        square_bytes(cm.data.shape[0], c, cm.data.dtype, 2),
        func=func,
        got=f"{c} classes",
        what=f"the {c} × {c} Gram matrix of the class means",
        device=cm.data.device,
        advice="Group the labels into fewer classes.",
        name="labels",
    )
    norms = cm.means.norm(dim=-1)  # (B, C)
    variation = norms.std(dim=-1) / norms.mean(dim=-1).clamp_min(torch.finfo(norms.dtype).tiny)
    units = cm.means / norms.clamp_min(torch.finfo(norms.dtype).tiny)[..., None]
    gram = units @ units.mT + 1.0 / (c - 1)
    gram.diagonal(dim1=-2, dim2=-1).zero_()
    deviation = gram.abs().sum(dim=(-2, -1)) / (c * (c - 1))
    undefined = cm.coincide | cm.flat
    variation = torch.where(undefined, torch.nan, variation)
    deviation = torch.where(undefined, torch.nan, deviation)
    warn_no_variance(cm.flat, func, "the class-mean geometry is nan")
    _warn_coincide(cm.coincide, func, "the class-mean geometry is nan")
    return ClassMeanGeometry(cm.batch.output(variation), cm.batch.output(deviation), c)


def _warn_coincide(coincide: torch.Tensor, func: str, answer: str) -> None:
    count = int(coincide.sum())
    if count:
        which = f" ({count} of the {coincide.numel()} matrices)" if coincide.numel() > 1 else ""
        warn(
            f"{func}: the class means coincide{which} (up to rounding), so {answer}.",
            stacklevel=5,
        )
