"""Pythia's training checkpoints from the Hugging Face hub — or, offline, a tiny stand-in.

EleutherAI trained the Pythia models (Biderman et al. 2023) and published 154 checkpoints of
each as hub branches ``step0``, ``step1``, ``step2``, ``step4``, … ``step512``, then every 1000
steps to ``step143000`` (:data:`~repscope.sources.hub.PYTHIA_STEPS`). :func:`revisions` gives a
:class:`~repscope.sources.HubRevisions` over a log-spaced subset of them, with a probe of a few
dozen plain English sentences.

When the hub cannot be reached (no network, or ``HF_HUB_OFFLINE=1``) it says so and trains a
tiny GPTNeoX — the same architecture, two layers of width 32 — on the synthetic Zipfian language
of :mod:`~repscope.demos.three_phases` for a few hundred steps instead, saving its checkpoints as
a Hugging Face Trainer would (``checkpoint-<step>/``, ``save_pretrained`` folders) at the same
Pythia log steps, so that the rest of a notebook runs unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..sources.hub import PYTHIA_STEPS, HubRevisions
from ._run import demo_folder, demo_size
from .three_phases import learning_rate
from .zipf_bigram import ZipfBigramLanguage

if TYPE_CHECKING:
    from transformers import PreTrainedModel

DEFAULT_MODEL = "EleutherAI/pythia-70m"
#: The default steps: every Pythia log step (0, 1, 2, 4, …, 512), then doubling thousands.
STEPS: tuple[int, ...] = (
    0,
    *(2**i for i in range(10)),
    1000,
    2000,
    4000,
    8000,
    16000,
    32000,
    64000,
    143000,
)
#: α-ReQ's fit range for either path: the probe has a few dozen sentences (hub) and the offline
#: model a 32-wide residual stream, so the spectrum has only a few dozen eigenvalues.
FIT_RANGE = (2, 20)
#: Offline stand-in, per size: (last training step, batch, probe sequences).
OFFLINE_SIZES = {"small": (512, 16, 256), "full": (1000, 32, 512)}
OFFLINE_VOCAB, OFFLINE_CONTEXT = 4096, 33
OFFLINE_RUN = "tiny GPTNeoX (offline)"

#: The hub probe: short, everyday English sentences of varied topic and form.
SENTENCES: tuple[str, ...] = (
    "The cat sat on the warm windowsill and watched the birds.",
    "It rained all afternoon, so we stayed inside and played cards.",
    "She opened the letter with trembling hands.",
    "The train to the coast leaves at half past nine.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "He forgot his umbrella again, and of course it started to pour.",
    "The children built a sandcastle that the tide soon washed away.",
    "Please remember to lock the door when you leave.",
    "The museum is closed on Mondays during the winter.",
    "A small boat drifted slowly across the quiet lake.",
    "My grandmother bakes bread every Sunday morning.",
    "The committee will announce its decision next week.",
    "Light travels faster than sound, which is why we see lightning first.",
    "They planted tomatoes, beans and a row of sunflowers.",
    "The old bridge was repaired after the spring floods.",
    "Could you pass me the salt, please?",
    "The library lends books, films and even musical instruments.",
    "After the long climb, the view from the summit was breathtaking.",
    "The price of coffee has risen sharply this year.",
    "Our neighbour's dog barks whenever the postman arrives.",
    "The orchestra tuned their instruments before the concert began.",
    "Most plants need sunlight, water and air to grow.",
    "He wrote the answer on the blackboard in large letters.",
    "The shop on the corner sells fresh fruit and newspapers.",
    "We watched the sun set behind the mountains.",
    "The meeting was postponed because the manager was ill.",
    "Bees carry pollen from flower to flower.",
    "The recipe calls for two eggs and a cup of flour.",
    "A sudden gust of wind blew the papers off the desk.",
    "The students listened carefully to the lecture on history.",
    "The river freezes over in the coldest weeks of January.",
    "She learned to play the violin when she was seven.",
    "The bus was late, so I walked to work instead.",
    "Farmers harvest the wheat at the end of the summer.",
    "The detective examined the footprints in the mud.",
    "Two plus two equals four.",
    "The moon orbits the Earth about once a month.",
    "He painted the fence a bright shade of blue.",
    "The baby laughed at the puppet show.",
    "Thousands of people ran the marathon despite the heat.",
    "The computer restarted after installing the updates.",
    "Fresh snow covered the village overnight.",
    "The waiter brought us the menu and a jug of water.",
    "The ship reached the harbour just before the storm.",
    "Reading before bed helps me fall asleep.",
    "The garden was full of roses, lavender and buzzing insects.",
    "The teacher asked everyone to write a short story.",
    "A flock of geese flew south over the fields.",
)


def hub_reachable(model: str = DEFAULT_MODEL, *, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the hub answers for ``model``: ``(reachable, why_not)``.

    ``HF_HUB_OFFLINE`` set counts as unreachable without a network call; otherwise one
    ``HfApi().model_info(model, timeout=timeout)`` request decides.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model, timeout=timeout)
    except Exception as err:  # no network, DNS, a proxy, an unknown model: all "unreachable"
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        return False, f"{type(err).__name__}: {first}" if first else type(err).__name__
    return True, ""


def revisions(
    model: str = DEFAULT_MODEL,
    steps: Sequence[int] = STEPS,
    *,
    folder: str | Path | None = None,
    size: str | None = None,
    offline: bool | None = None,
    seed: int = 0,
) -> tuple[Any, Probe, str]:
    """A source of Pythia checkpoints and a probe for them, or an offline stand-in.

    Parameters
    ----------
    model : str, default "EleutherAI/pythia-70m"
        A hub model with ``step<n>`` branches (any Pythia size).
    steps : sequence of int, default :data:`STEPS`
        Training steps to load (hub branch ``step<n>``). Offline, the steps up to the stand-in's
        training length (512 at size small, 1000 at full) are kept.
    folder : str or Path, optional
        Offline only: where the stand-in's checkpoints are saved (default: a new temporary
        folder).
    size : {"small", "full"}, optional
        Offline only: the stand-in's training length. Default: ``$REPSCOPE_DEMO_SIZE``, else
        full.
    offline : bool, optional
        ``True``: use the offline stand-in without asking the hub; ``False``: skip the check and
        go to the hub. Default: ask the hub (``HF_HUB_OFFLINE`` set means unreachable; else one
        ``model_info`` request with a 5 s timeout). If the tokenizer then cannot be loaded, the
        stand-in is used all the same and the note says why.
    seed : int
        Offline only: seeds the language, the data and the model.

    Returns
    -------
    source : HubRevisions or CheckpointFolder
        Hub revisions of ``model``, or the stand-in's ``checkpoint-<step>/`` folders.
    probe : Probe
        Hub: :data:`SENTENCES` through the model's tokenizer (right-padded to 32 tokens); offline:
        256 (small) or 512 (full) held-out sequences of the synthetic language, each cut at a
        random length. Both capture every block and take each sequence's last real token.
    note : str
        What was used, and why: print it. Measure with ``fit_range=FIT_RANGE``.

    Examples
    --------
    The offline stand-in (a few seconds for steps up to 8):

    >>> from repscope import Trajectory
    >>> source, probe, note = revisions(steps=(0, 1, 2, 4, 8), offline=True, size="small")
    >>> print(note)  # doctest: +ELLIPSIS
    Offline: ... a tiny GPTNeoX (2 layers, width 32) trained here for 8 steps ...
    >>> [c.step for c in source]
    [0, 1, 2, 4, 8]
    >>> traj = Trajectory(source, probe, fit_range=FIT_RANGE).compute(progress=False)
    >>> traj.failures.empty, traj.layers
    (True, ['gpt_neox.layers.0', 'gpt_neox.layers.1'])

    Pythia itself (downloads each revision on first use, about 160 MB for pythia-70m):

    >>> source, probe, note = revisions("EleutherAI/pythia-70m")  # doctest: +SKIP
    """
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 0:
        raise ValueError(
            f"The 'steps' argument of revisions must be a non-empty sequence of "
            f"non-negative steps; got {steps}."
        )
    if offline is None:
        reachable, why = hub_reachable(model)
    else:
        reachable, why = not offline, ""
    if reachable:
        try:
            source, probe = _hub(model, steps)
        except Exception as err:  # e.g. the tokenizer could not be fetched after all
            first = (str(err).strip().splitlines() or [""])[0][:200]
            reachable, why = False, f"{type(err).__name__}: {first}"
        else:
            unknown = [s for s in steps if s not in PYTHIA_STEPS]
            extra = (
                f" Steps {unknown} are not Pythia checkpoints and will fail."
                if unknown and "pythia" in model.lower()
                else ""
            )
            return (
                source,
                probe,
                (
                    f"Hub: {len(steps)} revisions of {model} (steps {steps[0]} … {steps[-1]}), "
                    f"probed with {len(SENTENCES)} English sentences. Each revision is downloaded "
                    f"on first use.{extra}"
                ),
            )
    return _offline(model, steps, folder, size, seed, why)


def _hub(model: str, steps: list[int]) -> tuple[HubRevisions, Probe]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    probe = Probe.from_texts(SENTENCES, tokenizer, max_length=32, batch_size=64)
    return HubRevisions(model, steps=steps), probe


def _offline(
    model: str, steps: list[int], folder: str | Path | None, size: str | None, seed: int, why: str
) -> tuple[CheckpointFolder, Probe, str]:
    size = demo_size(size, "pythia.revisions")
    longest, batch, n_probe = OFFLINE_SIZES[size]
    kept = [s for s in steps if s <= longest]
    dropped = [s for s in steps if s > longest]
    root = demo_folder(folder, "pythia-offline")
    ckpts = root / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    lang = ZipfBigramLanguage(OFFLINE_VOCAB, seed=seed)
    _train(lang, kept, batch, ckpts, seed)
    source = CheckpointFolder(ckpts, run=OFFLINE_RUN, start="init")  # trained here from scratch
    probe = _probe(lang, n_probe, seed)
    more = (
        f" Steps {dropped[0]} … {dropped[-1]} are beyond its training and left out."
        if dropped
        else ""
    )
    if not why:
        reason, hint = "offline=True was asked for", ""
    else:
        reason = f"the Hugging Face hub cannot be reached ({why})"
        hint = (
            " Unset HF_HUB_OFFLINE (with a network) to scrub the real model."
            if "HF_HUB_OFFLINE" in why
            else " With a network connection the same call scrubs the real model."
        )
    note = (
        f"Offline: {reason}, so instead of {model} a tiny GPTNeoX (2 layers, width 32) "
        f"trained here for {kept[-1]} steps on a synthetic Zipfian language stands in, "
        f"with checkpoints at the same log steps ({', '.join(map(str, kept))}).{more}{hint}"
    )
    return source, probe, note


def tiny_gpt_neox_config() -> Any:
    """The offline stand-in's ``GPTNeoXConfig``: 2 layers of width 32, 4 heads, 4096 words."""
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=OFFLINE_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        architectures=["GPTNeoXForCausalLM"],
    )


def _train(lang: ZipfBigramLanguage, steps: list[int], batch: int, ckpts: Path, seed: int) -> None:
    """AdamW with warmup and cosine decay; ``save_pretrained`` at each of ``steps``."""
    from transformers import GPTNeoXForCausalLM
    from transformers.utils import logging as hf_logging

    total = steps[-1]
    wanted = set(steps)
    data = torch.from_numpy(
        lang.sample(max(total, 1) * batch, OFFLINE_CONTEXT, np.random.default_rng(seed))
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = GPTNeoXForCausalLM(tiny_gpt_neox_config())
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
        model.train()
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Writing model shards" bar per checkpoint
        try:
            for step in range(total + 1):
                if step in wanted:
                    _save(model, ckpts / f"checkpoint-{step}", step)
                if step == total:
                    break
                for group in opt.param_groups:
                    group["lr"] = learning_rate(
                        step, total, warmup=min(100, max(1, total // 5)), floor=0.0
                    )
                x = data[step * batch : (step + 1) * batch]
                logits = model(input_ids=x[:, :-1]).logits
                loss = F.cross_entropy(logits.reshape(-1, OFFLINE_VOCAB), x[:, 1:].reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
        finally:
            if bars:
                hf_logging.enable_progress_bar()


def _save(model: PreTrainedModel, where: Path, step: int) -> None:
    """A Trainer-like checkpoint folder: the ``save_pretrained`` files and a trainer state."""
    model.save_pretrained(where)
    (where / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def _probe(lang: ZipfBigramLanguage, n: int, seed: int) -> Probe:
    """Held-out sequences of the language, each cut at a random length (right padding)."""
    rng = np.random.default_rng(10**6 + seed)
    length = OFFLINE_CONTEXT - 1
    ids = torch.from_numpy(lang.sample(n, length, rng))
    cut = torch.from_numpy(rng.integers(1, length + 1, n))
    mask = (torch.arange(length)[None, :] < cut[:, None]).long()
    return Probe(
        {"input_ids": ids * mask, "attention_mask": mask},
        layers=["gpt_neox.layers.0", "gpt_neox.layers.1"],
        batch_size=256,
    )
