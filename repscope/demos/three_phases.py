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

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .._validation import check_int
from ..llc import LLCSettings
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
#: The run name of the weights view (:func:`weights_trajectory`).
WEIGHTS_RUN = "three phases (weights)"
#: Seeds the LLC's batches (:func:`llc_inputs`): fresh text, not the training stream.
LLC_DATA_SEED = 3
#: Tokens per LLC batch: a training batch, 32 sequences × 64 next-token predictions.
LLC_TOKENS = BATCH * CONTEXT
#: The SGLD settings of the LLC for this model, as measured (``docs/llc.md``, "the three-phases
#: demo model"): nβ = m / log m over the 2048 tokens of a batch (≈ 269; devinterp's default
#: from the 32 sequences, 9.2, lets the chains drift far from the checkpoint), γ = 1000,
#: ε = 1e-4, 40 burn-in steps, 2 chains of 96 draws (a multiple of the 8 batches). At step 4000
#: the distance from w* levels off within the burn-in and the chains agree (λ̂ ≈ 63 ± 2).
LLC_SETTINGS = LLCSettings(
    lr=1e-4,
    localization=1000.0,
    nbeta=LLC_TOKENS / math.log(LLC_TOKENS),
    num_chains=2,
    num_draws=96,
    num_burnin_steps=40,
)
#: ``SIZE = "small"``: the same ε, γ and nβ, 24 burn-in steps and 2 chains of 32 draws (4 cycles
#: of the batches): 112 SGLD steps a checkpoint instead of 272. Two chains still, so that their
#: spread (the error bar) exists. On the small run (seed 0) it gave 43.7 ± 3.2 at step 128 and
#: 112.6 ± 1.8 at step 400, where :data:`LLC_SETTINGS` gave 44.1 ± 0.3 and 110.1 ± 3.2.
LLC_SETTINGS_SMALL = dataclasses.replace(LLC_SETTINGS, num_draws=32, num_burnin_steps=24)


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


# -- two other lenses: the weights' spectra and the LLC (notebook 02) --------------------------
def weight_layers() -> list[str]:
    """The weight matrices whose spectra (ESD α) are read, as
    ``benchmarks/three_phases_seeds.py`` reads them: each block's attention input (``qkv``,
    48 × 16) and MLP (``fc1``, 64 × 16; ``fc2``, 16 × 64). Left out: the attention outputs
    (``proj``, 16 × 16) and the unembedding (``head``, 2048 × 16), whose α starts near 16 (a
    random 2048 × 16 matrix has 16 almost equal singular values) and would swamp their mean.
    Every one of these matrices has 16 singular values (d = 16): WeightWatcher's small-sample
    fit, so one layer's α is rough; read their mean.

    Examples
    --------
    >>> weight_layers()
    ['blocks.0.qkv', 'blocks.0.fc1', 'blocks.0.fc2', 'blocks.1.qkv', 'blocks.1.fc1', 'blocks.1.fc2']
    """
    with torch.device("meta"):  # the names only: no memory, no draw from torch's random state
        net = model()
    return [
        name
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Linear)
        and name.startswith("blocks.")
        and name.rsplit(".", 1)[-1] in ("qkv", "fc1", "fc2")
    ]


def weights_trajectory(result: DemoRun) -> Trajectory:
    """The weights view of a demo run's checkpoints: WeightWatcher's ESD α
    (``esd_alpha``), the effective rank of each matrix and how far it moved from step 0, for
    each of :func:`weight_layers`. Stored beside the run (same store, run
    :data:`WEIGHTS_RUN`); not computed yet: call ``.compute()`` (a few seconds).

    Parameters
    ----------
    result : DemoRun
        What :func:`run` returned (its training has ended: ``result.wait()`` for a live run).

    Returns
    -------
    Trajectory
        ``view="weights"``, no error bars; ``traj.curve("esd_alpha", layer)`` after
        ``compute``.
    """
    layers = weight_layers()
    return Trajectory(
        CheckpointFolder(result.folder / "checkpoints", model=model, run=WEIGHTS_RUN),
        # the weights view reads no inputs: two sequences only to name the layers
        Probe({"input_ids": torch.zeros(2, CONTEXT, dtype=torch.long)}, layers=layers),
        store=result.trajectory.store,
        run=WEIGHTS_RUN,
        start="init",
        view="weights",
        errors="none",
        fit_range=FIT_RANGE,
    )


def next_token_loss(net: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The training loss: mean next-token cross-entropy of ``batch`` (sequences of 65 tokens:
    the model reads the first 64 and predicts each one's successor)."""
    logits = net(batch[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def llc_inputs(
    seed: int = 0, n_batches: int = 8
) -> tuple[list[torch.Tensor], Callable[[torch.nn.Module, torch.Tensor], torch.Tensor]]:
    """Data and loss for the LLC (:func:`repscope.llc.add_llc`): ``n_batches`` batches of the
    training's shape, 32 sequences of 64 + 1 tokens, fresh from the language (the LLC is a
    property of the weights and the data's law, not of the batches seen), and the training
    loss, :func:`next_token_loss`.

    Parameters
    ----------
    seed : int, default 0
        Seeds the batches (with :data:`LLC_DATA_SEED`: not the training stream of any seed).
    n_batches : int, default 8
        Batches; SGLD takes one per step, cycling through them.

    Returns
    -------
    batches : list of LongTensor (32, 65)
    loss_fn : callable ``(model, batch) -> scalar tensor``

    Examples
    --------
    >>> batches, loss_fn = llc_inputs(n_batches=2)
    >>> len(batches), tuple(batches[0].shape), batches[0].dtype
    (2, (32, 65), torch.int64)
    >>> _ = torch.manual_seed(0)
    >>> with torch.no_grad():
    ...     loss = loss_fn(model(), batches[0]).item()
    >>> 7.5 < loss < 7.7  # ≈ log 2048: an untrained model guesses almost uniformly
    True
    """
    seed = check_int(seed, name="seed", func="three_phases.llc_inputs", low=0)
    n_batches = check_int(n_batches, name="n_batches", func="three_phases.llc_inputs", low=1)
    rng = np.random.default_rng([LLC_DATA_SEED, seed])
    text = torch.from_numpy(language().sample(n_batches * BATCH, CONTEXT + 1, rng))
    return list(text.split(BATCH)), next_token_loss


def llc_settings(size: str | None = None) -> LLCSettings:
    """:data:`LLC_SETTINGS` at ``size="full"``, :data:`LLC_SETTINGS_SMALL` at ``"small"``
    (default: ``$REPSCOPE_DEMO_SIZE``, else full).

    Examples
    --------
    >>> settings = llc_settings("small")
    >>> settings.num_chains, settings.num_steps, llc_settings("full").num_steps
    (2, 56, 136)
    """
    size = demo_size(size, "three_phases.llc_settings")
    return LLC_SETTINGS if size == "full" else LLC_SETTINGS_SMALL


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` torch threads, restoring the number after.

    Notebook 02 estimates the LLC on one thread. Each SGLD step on this model is small (one
    forward and backward pass on 32 × 64 tokens), and two threads that share their cores with
    other work wait on each other. On this project's 2-core machine a step took 81 ms on one
    thread and 61 ms on two when it was nearly idle, but 153 ms on one and 553 ms on two while
    other work kept both cores busy (as a test suite does).

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = check_int(n, name="n", func="three_phases.torch_threads", low=1)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def llc_steps(steps: Iterable[int], boundaries: Iterable[int], k: int = 8) -> list[int]:
    """About ``k`` of the checkpoints ``steps`` to estimate the LLC at (seconds each): the first,
    the last, the one nearest each phase boundary, then the steps that fill the largest gaps
    on a log axis (of ``1 + step``) until there are ``k``.

    Parameters
    ----------
    steps : iterable of int
        The measured checkpoints.
    boundaries : iterable of int
        Where phases start or end (``phase_table``'s ``start_step`` and ``end_step``).
    k : int, default 8
        How many to pick (more where the first, the last and the boundaries are more than
        ``k``; all of ``steps`` where they are fewer).

    Returns
    -------
    list of int
        Ascending.

    Examples
    --------
    >>> llc_steps(checkpoint_steps(4000), [0, 45, 256, 4000])
    [0, 2, 6, 16, 45, 256, 1024, 4000]
    >>> llc_steps(checkpoint_steps(400), [0, 40, 400], k=5)  # 40 is no checkpoint: 45 is nearest
    [0, 6, 45, 128, 400]
    >>> llc_steps([0, 10, 100], [50], k=2)  # a boundary is never left out
    [0, 10, 100]
    """
    k = check_int(k, name="k", func="three_phases.llc_steps", low=1)
    pool = sorted({int(s) for s in steps})
    if not pool:
        return []
    chosen = sorted({pool[0], pool[-1]})
    for b in sorted({int(b) for b in boundaries}):
        nearest = min(pool, key=lambda s: (abs(s - b), s))
        if nearest not in chosen:
            chosen.append(nearest)
    x = {s: math.log1p(max(s, 0)) for s in pool}
    while len(chosen) < k and len(chosen) < len(pool):
        gap = {s: min(abs(x[s] - x[c]) for c in chosen) for s in pool if s not in chosen}
        chosen.append(max(gap, key=lambda s: (gap[s], -s)))
    return sorted(chosen)
