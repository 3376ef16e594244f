"""Constructed data whose geometry is known exactly: for teaching, the tour and the tests."""

from __future__ import annotations

import numpy as np


def exact_spectrum_data(variances: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Data whose *sample* covariance has exactly the given eigenvalues.

    Parameters
    ----------
    variances : array of shape (n_features,)
        The eigenvalues the covariance should have (non-negative).
    seed : int
        Seed of the random orthonormal bases.

    Returns
    -------
    numpy.ndarray of shape (2 * n_features, n_features)
        ``U diag(sqrt((n - 1) · variances)) Qᵀ`` with ``U`` orthonormal, centred columns and ``Q``
        a random rotation, so ``cov(X) = Q diag(variances) Qᵀ`` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> x = exact_spectrum_data(np.array([4.0, 1.0, 0.0]))
    >>> np.round(np.linalg.eigvalsh(np.cov(x.T))[::-1], 6) + 0.0
    array([4., 1., 0.])
    """
    variances = np.asarray(variances, dtype=float)
    rng = np.random.default_rng(seed)
    d = len(variances)
    n = 2 * d
    u, _ = np.linalg.qr(rng.normal(size=(n, d)))
    u, _ = np.linalg.qr(u - u.mean(axis=0))  # the span of centred columns stays orthogonal to 1
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (u * np.sqrt(variances * (n - 1))) @ q.T


def separated_clusters(
    n_clusters: int, per_cluster: int, n_features: int, *, spread: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tight Gaussian clusters (std ``spread``) whose centres are 100·√2 apart.

    Returns
    -------
    x : numpy.ndarray of shape (n_clusters * per_cluster, max(n_features, n_clusters))
    labels : numpy.ndarray of shape (n_clusters * per_cluster,)

    Examples
    --------
    >>> x, y = separated_clusters(3, 10, 5)
    >>> x.shape, np.bincount(y).tolist()
    ((30, 5), [10, 10, 10])
    """
    rng = np.random.default_rng(seed)
    dim = max(n_features, n_clusters)
    centres = 100.0 * np.eye(dim)[:n_clusters]
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


def demo_model():
    """The small MLP :func:`save_demo_checkpoints` trains: 8 → 64 → 64 → 4, tanh."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
        torch.nn.Linear(64, 4),
    )


def save_demo_checkpoints(folder=None, *, steps=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256),
                          seed: int = 0):
    """Train :func:`demo_model` on a teacher network's outputs and save real checkpoints.

    A few hundred Adam steps on a CPU (about a second); the state dict is saved as
    ``step_<n>.safetensors`` at each of ``steps``.

    Parameters
    ----------
    folder : str or Path, optional
        Where to save; default a new temporary folder.
    steps : sequence of int
        The steps to save (the training runs to the largest).
    seed : int

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> folder = save_demo_checkpoints(steps=(0, 5))
    >>> sorted(p.name for p in folder.glob("*.safetensors"))
    ['step_0.safetensors', 'step_5.safetensors']
    """
    import tempfile
    from pathlib import Path

    import torch
    from safetensors.torch import save_file

    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="repscope-"))
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    teacher, model = demo_model(), demo_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    wanted = set(steps)
    for step in range(max(steps) + 1):
        if step in wanted:
            state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
            save_file(state, folder / f"step_{step}.safetensors")
        x = torch.randn(64, 8, generator=gen)
        with torch.no_grad():
            y = teacher(3 * x)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return folder
