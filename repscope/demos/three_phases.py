"""Demo 1 — three phases in a tiny language model.

A two-block transformer with a 16-dimensional residual stream — far narrower than its 4096-word
vocabulary, the bottleneck the tracing paper names (Li et al. 2025, "Tracing the representation
geometry of language models") — learns a synthetic language: Zipfian word frequencies (exponent
1.1) and word-pair structure (each word has its own likely successors). The last block's state
at the last token of held-out sequences cut at random positions shows:

1. **warmup collapse** — as the model learns word frequencies alone (the loss falls from uniform
   guessing to the unigram entropy), the representation collapses onto a few directions: RankMe
   falls, α rises;
2. **entropy-seeking** — as it learns the word pairs, it spreads out again: RankMe rises, α falls;
3. **compression-seeking** — in the tracing paper, late in training the representation
   concentrates again (RankMe falls, α rises). At this laptop scale it does **not** appear: once
   the loss stops improving (about step 600) RankMe plateaus within ± 0.3. The first two phases
   are robust (``tests/demos``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..trajectory import Trajectory
from ._run import DemoRun, demo_folder, demo_size, save_checkpoint
from .tiny_lm import TinyLM

VOCAB, CONTEXT = 4096, 33
LAYER = "blocks.1"
#: (batch, steps, probe sequences, log-spaced checkpoints) per size.
SIZES = {"small": (16, 800, 512, 24), "full": (32, 3000, 1024, 32)}


class ZipfBigramLanguage:
    """A Markov chain over ``vocab`` words with Zipfian frequencies and per-word successors.

    The next word is, with probability ``p_pair``, one of the current word's ``successors``
    (drawn once from the Zipf distribution, weighted Zipf(1.1) along the list), and otherwise a
    fresh draw from Zipf(``exponent``) over the vocabulary (word id = frequency rank).

    Examples
    --------
    >>> lang = ZipfBigramLanguage(50, seed=0)
    >>> lang.sample(3, 8, np.random.default_rng(0)).shape
    (3, 8)
    """

    def __init__(self, vocab: int, *, exponent: float = 1.1, p_pair: float = 0.5,
                 successors: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        weights = np.arange(1, vocab + 1, dtype=float) ** -exponent
        self.cdf = np.cumsum(weights / weights.sum())
        along = np.arange(1, successors + 1, dtype=float) ** -1.1
        self.along_cdf = np.cumsum(along / along.sum())
        self.next = self._draw(rng.random((vocab, successors)))
        self.vocab, self.p_pair = vocab, p_pair

    def _draw(self, u: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.cdf, u).clip(0, len(self.cdf) - 1)

    def sample(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` sequences of ``length`` word ids, shape ``(n, length)``."""
        out = np.empty((n, length), dtype=np.int64)
        out[:, 0] = self._draw(rng.random(n))
        for i in range(1, length):
            pair = rng.random(n) < self.p_pair
            k = np.searchsorted(self.along_cdf, rng.random(n)).clip(0, self.next.shape[1] - 1)
            out[:, i] = np.where(pair, self.next[out[:, i - 1], k], self._draw(rng.random(n)))
        return out


def checkpoint_steps(total: int, n: int, first: int = 10) -> list[int]:
    """Step 0, then ``n`` log-spaced steps from ``first`` to ``total`` (the first few steps are
    left out: RankMe's small wobble there is not a phase)."""
    grid = np.unique(np.round(np.geomspace(first, total, n)).astype(int))
    return [0, *map(int, grid)]


def run(size: str | None = None, *, seed: int = 0, folder: str | Path | None = None,
        progress: bool = False) -> DemoRun:
    """Train the tiny LM, save log-spaced checkpoints, measure the last block, find the phases.

    Parameters
    ----------
    size : {"small", "full"}, optional
        ``"full"``: 3000 AdamW steps of 32 × 32 tokens (about 2 minutes on a laptop core);
        ``"small"``: 800 steps of 16 × 32, for tests. Default: ``$REPSCOPE_DEMO_SIZE``, else
        full.
    seed : int
        Seeds the language, the data and the model.
    folder : str or Path, optional
    progress : bool

    Returns
    -------
    DemoRun
        One trajectory (``blocks.1``: RankMe, α-ReQ fitted over ranks 1–15); ``history`` has
        ``step``, ``loss`` (mean of the last 20 steps) and ``lr``; ``facts["phases"]`` is the
        phase table.
    """
    size = demo_size(size, "three_phases.run")
    batch, steps, n_probe, n_ckpt = SIZES[size]
    root = demo_folder(folder, "three-phases")
    ckpts = root / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    lang = ZipfBigramLanguage(VOCAB, seed=seed)
    data = torch.from_numpy(lang.sample(steps * batch, CONTEXT, np.random.default_rng(seed)))
    wanted = set(checkpoint_steps(steps, n_ckpt))
    rows, losses = [], []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = TinyLM(VOCAB, context=CONTEXT)
        matrices = [p for p in model.parameters() if p.dim() >= 2]
        others = [p for p in model.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1},
                                 {"params": others, "weight_decay": 0.0}],
                                lr=3e-3, betas=(0.9, 0.95))
        for step in range(steps + 1):
            lr = _learning_rate(step, steps)
            if step in wanted:
                save_checkpoint(model, ckpts, step)
                rows.append({"step": step, "lr": lr,
                             "loss": float(np.mean(losses[-20:])) if losses else np.nan})
            if step == steps:
                break
            for group in opt.param_groups:
                group["lr"] = lr
            x = data[step * batch:(step + 1) * batch]
            loss = F.cross_entropy(model(x[:, :-1]).reshape(-1, VOCAB), x[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    traj = Trajectory(CheckpointFolder(ckpts, model=lambda: TinyLM(VOCAB, context=CONTEXT)),
                      _probe(lang, n_probe, seed), store=root / "geometry.sqlite",
                      run="three phases", fit_range=(1, 15)).compute(progress=progress)
    return DemoRun("three_phases", {"three phases": traj},
                   pd.DataFrame(rows).assign(run="three phases"), root,
                   {"phases": traj.phase_table(LAYER)})


def _probe(lang: ZipfBigramLanguage, n: int, seed: int) -> Probe:
    """Held-out sequences, each cut at a random position (right padding): the probe takes the
    last real token's state, so each sequence contributes one position."""
    rng = np.random.default_rng(10**6 + seed)
    ids = torch.from_numpy(lang.sample(n, CONTEXT - 1, rng))
    cut = torch.from_numpy(rng.integers(1, CONTEXT, n))  # keep 1 … CONTEXT-1 tokens
    mask = (torch.arange(CONTEXT - 1)[None, :] < cut[:, None]).long()
    return Probe({"input_ids": ids * mask, "attention_mask": mask}, layers=[LAYER],
                 batch_size=256)


def _learning_rate(step: int, total: int, peak: float = 3e-3, warmup: int = 100) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(1, total - warmup), 1.0)
    return peak * 0.5 * (1 + float(np.cos(np.pi * progress)))
