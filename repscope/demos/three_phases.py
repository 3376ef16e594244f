"""Demo 1 — the three phases of the tracing paper in a tiny language model, on a laptop core.

Li et al. 2025 ("Tracing the representation geometry of language models") found three phases in
the geometry of language models' representations over pre-training. This demo trains a 73k-
parameter GPT on a synthetic language whose true next-word law is known, and shows all three
(at every seed tried; ``benchmarks/three_phases_seeds.py``):

1. **warmup collapse** (steps ~10 → ~45): the loss starts to fall, and the first thing the model
   learns is how frequent words are, which needs no context: the same prediction fits every
   position. The representation collapses onto a few directions: RankMe falls by about half, α
   rises, the top eigenvalue takes about half of the variance. KL(unigram ‖ model) falls (to
   ~0.1 by step ~128, when the model predicts almost exactly the word frequencies).
2. **entropy-seeking** (~45 → ~256): the model learns which words follow which: it needs the
   current word, and the representation spreads out to hold it: RankMe climbs back, α falls.
   KL(true law ‖ model) falls from ~4.3 to ~0.5 nats, and KL(unigram ‖ model) rises again as
   the predictions leave plain word frequencies behind.
3. **compression-seeking** (~256 → 4000): consolidation as the learning rate decays. The loss
   improves slowly (KL(true law ‖ model) ~0.5 → ~0.2) while the representation concentrates
   again, mostly by the top eigenvalue's share growing (~0.18 → 0.20–0.29): RankMe falls 9–17 %,
   α rises 0.15–0.3.

**The recipe** (measured; change nothing without measuring both side by side):

- *Language* (:class:`~repscope.demos.zipf_bigram.ZipfBigramLanguage`, seed fixed): |V| = 2048,
  Zipf(1.1) word frequencies, 8 successors per word with Dirichlet(0.5) weights,
  ``P(next | cur) = 0.2 · unigram + 0.8 · successors(cur)``; fresh samples every step.
- *Model* (:class:`~repscope.demos.tiny_lm.TinyLM`): pre-LN GPT, 2 layers, d = 16, 4 heads,
  MLP 4d, learned positions, final LayerNorm, untied unembedding; GPT-2 initialisation.
- *Training*: 64-token sequences, batch 32, AdamW (0.9, 0.95), peak lr 3e-3, linear warmup over
  100 steps, cosine decay to 10 % of the peak at step 4000; weight decay 0.1 on matrices only;
  gradient clipping 1.0; one torch thread in the recipe (two where there are two cores: the
  same results, faster here).
- *Probe*: 2048 held-out sequences (the same for every seed); for each, the final LayerNorm's
  output (``ln_f``, what the unembedding reads) at one fixed random position in [16, 63].
- *Checkpoints*: step 0, then round(2^(k/2)) up to 4000, and 4000 (25 in all).
- *Measures*: RankMe on the covariance spectrum; α-ReQ over ranks 1…14. Why 1…14 and not the
  tracing code's 12…100: the representation has only d = 16 dimensions, and a LayerNorm output
  has one zero eigenvalue by construction (each row is centred, so it lies in a 15-dimensional
  subspace), which leaves ranks 1…15; rank 15 is the smallest non-zero eigenvalue, dominated by
  noise, so the fit stops at 14. Over ranks 2…8 the late rise of α is fragile (+0.04 at one
  seed), because compression is mostly the top eigenvalue's share growing.

At each checkpoint the demo also records the held-out loss, KL(unigram ‖ model) and
KL(true law ‖ model) (:meth:`~repscope.demos.zipf_bigram.ZipfBigramLanguage.divergences`), the
curves that say *what* the model is learning in each phase; the widgets show them beside RankMe
and α. ``run(live=True)`` trains in the background while a scrubber watches the phases appear.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .._validation import check_int
from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..trajectory import Trajectory
from ._run import DemoRun, demo_folder, demo_size, save_checkpoint, training_bar
from .tiny_lm import TinyLM
from .zipf_bigram import ZipfBigramLanguage

#: The demo's name: `repscope demo three-phases`, its folder, its run.
NAME = "three-phases"

VOCAB, CONTEXT, BATCH = 2048, 64, 32
LAYER = "ln_f"
RUN = "three phases"
FIT_RANGE = (1, 14)
#: The language and the held-out sets are the same for every run seed.
LANGUAGE_SEED, PROBE_SEED, EVAL_SEED = 0, 1, 2
#: (training steps, probe sequences) per size. ``small`` shows the first two phases.
SIZES = {"small": (400, 512), "full": (4000, 2048)}
#: The measures the scrubber shows first: geometry beside what the model has learned.
SHOWN = ["effective_rank", "alpha", "heldout_loss", "kl_unigram", "kl_true"]
_EVAL_SEQUENCES = 64


def checkpoint_steps(total: int) -> list[int]:
    """Step 0, then ``round(2^(k/2))`` up to ``total``, and ``total``.

    Examples
    --------
    >>> checkpoint_steps(100)
    [0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 100]
    """
    grid = [round(2 ** (k / 2)) for k in range(int(2 * np.log2(max(total, 1))) + 1)]
    return sorted({0, *(s for s in grid if s <= total), total})


def learning_rate(
    step: int, total: int, *, peak: float = 3e-3, warmup: int = 100, floor: float = 0.1
) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``floor · peak`` at ``total``.

    Examples
    --------
    >>> learning_rate(0, 4000), learning_rate(99, 4000), learning_rate(4000, 4000)
    (3e-05, 0.003, 0.0003)
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(1, total - warmup), 1.0)
    return peak * (floor + (1 - floor) * 0.5 * (1 + float(np.cos(np.pi * progress))))


def language() -> ZipfBigramLanguage:
    """The demo's language (fixed seed)."""
    return ZipfBigramLanguage(VOCAB, seed=LANGUAGE_SEED)


def model() -> TinyLM:
    """The demo's model, untrained (the checkpoints' model factory)."""
    return TinyLM(VOCAB, context=CONTEXT)


def probe(lang: ZipfBigramLanguage, n: int) -> Probe:
    """``n`` held-out sequences of 64 tokens, each read at one fixed random position in
    [16, 63]: the attention mask ends there, so the probe takes that token's state (attention
    is causal, so the tokens after it change nothing)."""
    rng = np.random.default_rng(PROBE_SEED)
    ids = torch.from_numpy(lang.sample(n, CONTEXT, rng))
    position = torch.from_numpy(rng.integers(16, CONTEXT, n))
    mask = (torch.arange(CONTEXT)[None, :] <= position[:, None]).long()
    return Probe({"input_ids": ids, "attention_mask": mask}, layers=[LAYER], batch_size=512)


def train(
    lang: ZipfBigramLanguage,
    steps: int,
    seed: int,
    on_checkpoint: Callable[[int, torch.nn.Module, dict[str, float]], None],
    *,
    threads: int = 1,
    progress: bool = False,
    bar: Any = None,
) -> None:
    """Train on the recipe, calling ``on_checkpoint(step, model, scalars)`` at each checkpoint.

    ``scalars`` holds ``lr``, ``train_loss`` (mean of the last 20 steps) and the held-out
    ``heldout_loss``, ``kl_unigram`` and ``kl_true``. Runs on ``threads`` torch threads (the
    setting is restored after). ``progress``: a bar with the step, the training loss and the
    time left; or ``bar``, one made already (a live run makes it in the caller's thread, so that
    a notebook shows it under the cell that started the run). Either is closed at the end.
    """
    data = torch.from_numpy(lang.sample(steps * BATCH, CONTEXT + 1, np.random.default_rng(seed)))
    held_out = torch.from_numpy(
        lang.sample(_EVAL_SEQUENCES, CONTEXT + 1, np.random.default_rng(EVAL_SEED))
    )
    wanted = set(checkpoint_steps(steps))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    losses: list[float] = []
    bar = bar if bar is not None else training_bar(steps, f"train {NAME}", progress)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = model()
            matrices = [p for p in net.parameters() if p.dim() >= 2]
            others = [p for p in net.parameters() if p.dim() < 2]
            opt = torch.optim.AdamW(
                [
                    {"params": matrices, "weight_decay": 0.1},
                    {"params": others, "weight_decay": 0.0},
                ],
                lr=3e-3,
                betas=(0.9, 0.95),
            )
            for step in range(steps + 1):
                lr = learning_rate(step, steps)
                if step in wanted:
                    scalars = {"lr": lr, **_evaluate(net, lang, held_out)}
                    if losses:
                        scalars["train_loss"] = float(np.mean(losses[-20:]))
                    on_checkpoint(step, net, scalars)
                if step == steps:
                    break
                for group in opt.param_groups:
                    group["lr"] = lr
                x = data[step * BATCH : (step + 1) * BATCH]
                loss = F.cross_entropy(net(x[:, :-1]).reshape(-1, VOCAB), x[:, 1:].reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                losses.append(loss.item())
                bar.update(1)
                if step % 25 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", refresh=False)
    finally:
        bar.close()
        torch.set_num_threads(before)


def _evaluate(
    net: torch.nn.Module, lang: ZipfBigramLanguage, held_out: torch.Tensor
) -> dict[str, float]:
    net.eval()
    parts = []
    with torch.no_grad():
        for chunk in held_out.split(16):
            parts.append(lang.divergences(net(chunk[:, :-1]), chunk))
    net.train()
    names = ("loss", "kl_unigram", "kl_true")
    values = {k: float(np.mean([p[k] for p in parts])) for k in names}
    return {
        "heldout_loss": values["loss"],
        "kl_unigram": values["kl_unigram"],
        "kl_true": values["kl_true"],
    }


def run(
    size: str | None = None,
    *,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: bool = True,
    live: bool = False,
    threads: int | None = None,
) -> DemoRun:
    """Train the tiny LM on the recipe, save its checkpoints, measure ``ln_f``, find the phases.

    Parameters
    ----------
    size : {"small", "full"}, optional
        ``"full"``: the recipe, 4000 steps (about 2 minutes on a laptop core, scan included);
        ``"small"``: 400 steps and 512 probe sequences (warmup collapse and entropy-seeking;
        the third phase needs the long, slowly decaying tail). Default:
        ``$REPSCOPE_DEMO_SIZE``, else full.
    seed : int
        Seeds the model's initialisation and the data stream (the language is fixed).
    folder : str or Path, optional
        Where checkpoints and the store go (default: a new temporary folder).
    progress : bool, default True
        Show a bar while training (the step, the training loss, the time left; with ``live``
        too) and while scanning (without ``live``: a live run's scrubber counts the checkpoints
        measured).
    live : bool
        Return at once, with training and scanning running in a background thread: the
        returned run's ``scrubber()`` adds each checkpoint as it lands and shades each phase as
        soon as it is detected, and the kernel stays free. ``run.wait()`` blocks until done.
    threads : int, optional
        Torch threads for training; default two where torch has two (it follows the cores,
        or ``OMP_NUM_THREADS``), else one. The
        recipe was measured with one; on this project's 2-core machine two give the same
        phases and values (to 4 digits, seeds 0–4) 1.8× faster (``three_phases_seeds.py
        --threads``). The scan uses every core.

    Returns
    -------
    DemoRun
        One trajectory (layer ``ln_f``: RankMe, α-ReQ over ranks 1…14); ``history`` has
        ``step``, ``lr``, ``train_loss``, ``heldout_loss``, ``kl_unigram`` and ``kl_true`` (also
        in the store, as the run's training scalars); ``facts["phases"]`` is the phase table
        and ``facts["seconds"]`` the wall time of training and of the scan.
    """
    threads = (
        min(2, torch.get_num_threads())
        if threads is None
        else check_int(threads, name="threads", func="three_phases.run", low=1)
    )
    size = demo_size(size, "three_phases.run")
    steps, n_probe = SIZES[size]
    root = demo_folder(folder, NAME)
    ckpts = root / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    lang = language()
    traj = Trajectory(
        None,
        probe(lang, n_probe),
        store=root / "geometry.sqlite",
        run=RUN,
        start="init",  # trained from scratch: the tracing paper's names apply
        fit_range=FIT_RANGE,
    )
    traj.expected = len(checkpoint_steps(steps))
    result = DemoRun(NAME, {RUN: traj}, pd.DataFrame(), root, {}, shown=SHOWN)
    rows: list[dict[str, Any]] = []

    def scan(show: bool) -> None:
        traj.source = CheckpointFolder(ckpts, model=model, run=RUN)
        traj.compute(progress=show)

    def on_checkpoint(step: int, net: torch.nn.Module, scalars: dict[str, float]) -> None:
        save_checkpoint(net, ckpts, step)
        rows.append({"step": step, **scalars})
        traj.store.put_scalars(RUN, step, scalars)
        if live:  # measured as it lands: the scrubber shows it while training goes on
            scan(False)

    def work() -> DemoRun:
        start = time.perf_counter()
        train(lang, steps, seed, on_checkpoint, threads=threads, bar=bar)
        trained = time.perf_counter()
        scan(progress and not live)
        result.facts["seconds"] = {
            "training": trained - start,
            "scan": time.perf_counter() - trained,
        }
        result.history = pd.DataFrame(rows).assign(run=RUN)
        result.facts["phases"] = traj.phase_table(LAYER)
        return result

    # made here, in the caller's thread: a notebook shows it under the cell that ran this
    bar = training_bar(steps, f"train {NAME}", progress)
    if not live:
        return work()
    result.start(work, traj)
    return result
