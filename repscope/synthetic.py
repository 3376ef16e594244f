"""Constructed data whose geometry is known exactly: for teaching, the tour and the tests."""

from __future__ import annotations

from typing import Any

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
        torch.nn.Linear(8, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 4),
    )


def save_demo_checkpoints(
    folder=None, *, steps=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256), seed: int = 0
):
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


def synthetic_trajectory(
    n_steps: int = 12,
    layers=("h.0", "h.1"),
    n_points: int = 200,
    *,
    n_features: int = 32,
    n_classes: int = 4,
    labels: bool = True,
    run: str = "synthetic",
    store=None,
    seed: int = 0,
):
    """A :class:`~repscope.trajectory.Trajectory` of made-up checkpoints, with no training.

    Each (step, layer) holds Gaussian data whose covariance decays as ``i^-a`` with ``a`` moving
    through a dip, a rise and a fall over log-steps (a caricature of the three phases), plus
    class means that separate as steps go on. Its measures, spectra and 2-D points are computed
    by the same code a scan uses. For the widgets' tests, benchmarks and docs.

    Parameters
    ----------
    n_steps : int
        Checkpoints: step 0, then log-spaced steps up to ``10 ** (n_steps / 4)`` (at most
        143000, Pythia's last).
    layers : sequence of str
    n_points : int
        Probe samples.
    n_features : int
    n_classes : int
    labels : bool
        Give the probe labels (class of each sample).
    run : str
    store : Store, str or Path, optional
        Default: in memory.
    seed : int

    Returns
    -------
    Trajectory

    Examples
    --------
    >>> traj = synthetic_trajectory(n_steps=5, layers=("a",), n_points=50)
    >>> traj.steps, traj.layers
    ([0, 1, 3, 7, 18], ['a'])
    """
    import torch

    from .probe import Probe
    from .scan import measures_of, principal_points
    from .store import Record
    from .trajectory import Trajectory

    rng = np.random.default_rng(seed)
    classes = rng.integers(0, n_classes, size=n_points)
    inputs = torch.from_numpy(rng.normal(size=(n_points, 4)))
    probe = Probe(inputs, layers=list(layers), labels=classes if labels else None)
    traj = Trajectory(
        None, probe, store=store, run=run, start="init", fit_range=(2, max(3, n_features // 2))
    )
    steps = [0, *log_spaced_steps(n_steps - 1, last=min(10 ** (n_steps / 4), 143_000))]
    key: dict[str, Any] = traj.key()
    ranks = np.arange(1, n_features + 1)
    means = rng.normal(size=(n_classes, n_features))
    records = []
    for i, step in enumerate(steps):
        u = np.log1p(step) / np.log1p(steps[-1] or 1)
        decay = 1.2 + 0.8 * np.exp(-(((u - 0.15) / 0.1) ** 2)) - 0.5 * u + 0.9 * u**3
        for j, layer in enumerate(layers):
            scale = np.sqrt(ranks ** -(decay + 0.1 * j))
            x = rng.normal(size=(n_points, n_features)) * scale + 2 * u * means[classes] * scale
            x = x @ np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
            matrix = torch.from_numpy(x)
            values, spectrum, note = measures_of(matrix, traj.config, None, None)
            records.append(
                Record(
                    run=run,
                    checkpoint=f"synthetic:{seed}:{i}",
                    layer=layer,
                    step=int(step),
                    measures=values,
                    spectrum=spectrum,
                    points=principal_points(matrix, traj.config),
                    error=note,
                    **key,
                )
            )
    traj.store.put(*records)
    traj.store.describe_run(run, {"kind": "synthetic", "identity": f"synthetic (seed {seed})"})
    traj.describe()
    return traj


def log_spaced_steps(n: int, last: float) -> list[int]:
    """``n`` distinct integers from 1 to about ``last``, evenly spaced in log.

    Examples
    --------
    >>> log_spaced_steps(6, 1000)
    [1, 4, 16, 63, 251, 1000]
    """
    m = n
    while len(candidates := np.unique(np.round(np.geomspace(1, last, m)).astype(int))) < n:
        m += max(1, n // 10)
    pick = np.round(np.linspace(0, len(candidates) - 1, n)).astype(int)
    return [int(c) for c in candidates[pick]]


def replay(trajectory, *, delay: float = 0.5, store=None):
    """Copy a trajectory's results into a new one, one checkpoint at a time, in the background.

    A stand-in for a run that is still training, with no training: the new trajectory's
    :attr:`~repscope.trajectory.Trajectory.filling` is the replay's Future, so a
    :class:`~repscope.widgets.Scrubber` of it watches the steps (and the phases) arrive. For
    teaching, tests and demos of live watching.

    Parameters
    ----------
    trajectory : Trajectory
        The finished run to replay.
    delay : float, default 0.5
        Seconds between checkpoints.
    store : Store, str or Path, optional
        Where the replay writes (default: a new in-memory store).

    Returns
    -------
    Trajectory
        Empty at first; filled step by step.

    Examples
    --------
    >>> live = replay(synthetic_trajectory(n_steps=4, n_points=30), delay=0.01)
    >>> live.filling.result() and None
    >>> live.steps
    [0, 1, 3, 10]
    >>> sorted(live.points("h.1"))  # with their points
    [0, 1, 3, 10]
    """
    import concurrent.futures as cf
    import time

    from .trajectory import Trajectory

    # with their 2-D points (Trajectory.records() leaves them out)
    records = list(trajectory.store.records(run=trajectory.run, points=True, **trajectory.key()))
    target = Trajectory(
        None,
        trajectory.probe,
        store=store,
        run=trajectory.run,
        start=trajectory.start,
        **vars(trajectory.config),
    )
    target.expected = len(trajectory.steps)
    target.describe()
    scalars = trajectory.store.scalars(trajectory.run)

    def copy() -> int:
        for step in trajectory.steps:
            time.sleep(delay)
            target.store.put(*(r for r in records if r.step == step))
            for s, name, value in scalars:
                if s == step:
                    target.store.put_scalars(target.run, s, {name: value})
        return len(trajectory.steps)

    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="repscope-replay")
    target.filling = pool.submit(copy)
    pool.shutdown(wait=False)
    return target
