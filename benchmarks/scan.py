"""Time a whole repscope scan of a checkpoint folder beside the tracing paper's loop, print JSON.

Run from the repository root::

    .venv/bin/python benchmarks/scan.py --quick            # 6 checkpoints: a smoke run, ~1 min
    .venv/bin/python benchmarks/scan.py --out scan.json    # 20 checkpoints: see below
    .venv/bin/python benchmarks/scan.py --repeats 3 --threads 1
    .venv/bin/python benchmarks/scan.py --model pythia-70m --size reduced --autocast bf16 \
        --only end_to_end,breakdown                        # Pythia-70m-shaped, see below

Setup, in a temporary folder: a tiny GPTNeoX (hidden 64, 4 layers, 4 heads, vocab 512, context
128; the config style of ``tests/fixtures_hf.py``) saved with ``save_pretrained`` (safetensors) as
Hugging Face Trainer ``checkpoint-<step>/`` folders at 20 log-spaced steps, each step a seeded
random walk away from the last; and 256 probe sequences of 64 random token ids (seeded), a
quarter of them shorter and right-padded. Layers: the last-token output of every block.

``--model pythia-70m``: a GPTNeoX of Pythia-70m's shape instead (6 layers, hidden 512, 8 heads,
intermediate 2048, vocab 50304, context 2048; random weights, saved the same way). ``--size
full``: 20 checkpoints and 2048 probe sequences of 64 tokens (Pythia's scale: too heavy for a
2-core CPU, where the baseline alone takes ~20 min); ``--size reduced``: 5 checkpoints and 256
sequences of 64 tokens, the same architecture. With the tiny model, ``--size reduced`` is
``--quick``. The α fit runs over ranks 12–100 (the tracing code's) for Pythia's shape.

``--autocast bf16`` (or ``fp16``) adds a second repscope side, ``Probe(..., autocast=...)``,
timed in the same rounds against the same baseline (record ``end_to_end_autocast``); its values
differ from the float32 baseline by the forward pass's bf16 rounding, so they are reported and
judged against a looser tolerance (``AUTOCAST_TOLERANCE``).

Sections (all always run):

``end_to_end``
    ``Trajectory(CheckpointFolder(folder), Probe(...), store=<sqlite file>, fit_range=(2, 32))
    .compute()`` (batched probe in ``inference_mode``, float64 geometry from one
    eigendecomposition per layer, every result written to the store) against the tracing paper's
    loop: per checkpoint ``from_pretrained``, then every probe sequence alone (batch size 1, no
    padding) in float32 under ``torch.no_grad()`` with ``output_hidden_states=True``, the last
    token's hidden state of each layer stacked, then per layer ``sklearn`` ``PCA(svd_solver=
    "full")`` and RankMe and α-ReQ written out here in numpy. Each side gets a fresh store per
    call. Target: ratio >= 5, and RankMe and α of every checkpoint and layer equal to 1e-4
    relative (both sides run the model in float32; expect ~1e-5).

    ``hidden_states[i + 1]`` is block ``i``'s output except the last entry, which GPTNeoX passes
    through ``gpt_neox.final_layer_norm``. So repscope captures ``gpt_neox.layers.0 … n-2`` and
    ``gpt_neox.final_layer_norm`` (the same tensors as ``hidden_states[1 … n]``: the same work
    on both sides, every layer compared).
``second_scan``
    A new ``CheckpointFolder`` and ``Trajectory`` on the same store file, then ``compute()``:
    nothing may be loaded or computed again (``TrainerCheckpoint.load`` and ``from_pretrained``
    are counted). Target: ``compute()`` under 1 s.
``memory``
    A scan in a fresh (spawned) process with ``on_record=`` reading ``/proc/self/status`` after
    each checkpoint; the peak (VmHWM) is reset through ``/proc/self/clear_refs`` just before the
    scan, so imports do not count. Target: peak RSS after the last checkpoint within 10 % of the
    peak after the 5th.
``breakdown``
    One more scan (fresh store, not timed against anything) with the scan's parts wrapped and
    timed: fingerprinting, loading, the probe's forward passes, the geometry, the store writes.
    Beside it, a bare ``from_pretrained`` of each checkpoint: what loading costs without
    repscope. Information, no target.
``error_bars``
    The scan with its default error bars (``errors="jackknife"``: 10 leave-one-group-out
    spectra per layer) against the same scan with ``errors="none"``, interleaved round by round,
    each in a fresh store. ``overhead = with / without - 1``. Target: <= 0.25 (then they are on
    by default; otherwise one flag).

Timing: one untimed warm-up per side (the baseline on one checkpoint), then ``--repeats`` rounds,
the sides interleaved. ``*_s`` is the best round, ``*_median_s`` the median; ``ratio =
baseline_s / repscope_s``. Both sides get every core (``torch.set_num_threads(os.cpu_count())``).
JSON goes to stdout (and ``--out``), progress to stderr.

Duration of the full run: ~1.5 min with ``--threads 1`` on 2 cores; with every core it depends on
the load, because the sides' thread pools then fight other processes (15 min on 2 busy cores).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import functools
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl
import torch
from _common import emit_report, log, rel_diff, use_all_cores
from _tracing import tracing_alpha, tracing_rankme
from sklearn.decomposition import PCA

ROOT = Path(__file__).resolve().parent.parent
SEED = 0
FIT_RANGE = (2, 32)  # 1-based, inclusive ranks of the α fit (hidden size 64: ranks 2 … d/2)
RANKME_EPS = 1e-7
MODELS = {
    "tiny": dict(
        vocab_size=512,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=256,
        max_position_embeddings=128,
    ),
    "pythia-70m": dict(  # EleutherAI/pythia-70m's config.json, random weights
        vocab_size=50304,
        hidden_size=512,
        num_hidden_layers=6,
        num_attention_heads=8,
        intermediate_size=2048,
        max_position_embeddings=2048,
        rotary_pct=0.25,
        use_parallel_residual=True,
    ),
}
FIT_RANGES = {"tiny": (2, 32), "pythia-70m": (12, 100)}
MODEL = dict(MODELS["tiny"])  # the model of this run (select_model)
SIZES = {  # checkpoints, probe sequences, tokens per sequence
    "tiny": {
        "full": dict(checkpoints=20, sequences=256, tokens=64),
        "reduced": dict(checkpoints=6, sequences=64, tokens=32),
    },
    "pythia-70m": {
        "full": dict(checkpoints=20, sequences=2048, tokens=64),
        "reduced": dict(checkpoints=5, sequences=256, tokens=64),
    },
}
AUTOCAST_TOLERANCE = 5e-2  # relative, RankMe and α with a bf16/fp16 forward pass
SECTIONS = ("end_to_end", "second_scan", "memory", "breakdown", "error_bars")
#: The error bars may cost this much of a scan and still be on by default (issue 18).
ERROR_BARS_BUDGET = 0.25
MAX_STEP = 10_000
MEMORY_AT = 5  # the checkpoint whose peak RSS the last one's is compared with
VALUE_TOLERANCE = 1e-4
NOTES: list[str] = []


# ---------------------------------------------------------------------------------------------
# setup: checkpoints and probe


def select_model(name: str) -> None:
    """Make ``name`` (a key of ``MODELS``) this process's model: ``MODEL`` and ``FIT_RANGE``."""
    global FIT_RANGE
    MODEL.clear()
    MODEL.update(MODELS[name])
    FIT_RANGE = FIT_RANGES[name]


def model_config():
    """The tiny GPTNeoX of ``tests/fixtures_hf.py``, at this benchmark's sizes."""
    sys.path.insert(0, str(ROOT))
    from transformers import GPTNeoXConfig

    from tests.fixtures_hf import TINY_CONFIG

    return GPTNeoXConfig(**{**TINY_CONFIG, **MODEL})


def log_steps(count: int) -> list[int]:
    """``count`` distinct steps, 0 then log-spaced up to ``MAX_STEP``."""
    steps = {0}
    grid = count - 1
    while len(steps) < count:
        steps = {0, *np.unique(np.geomspace(1, MAX_STEP, grid).round().astype(int)).tolist()}
        grid += 1
    return sorted(steps)[:count]


def write_checkpoints(folder: Path, steps: list[int]) -> None:
    """One Trainer ``checkpoint-<step>/`` per step, each a seeded random walk from the last."""
    from transformers import GPTNeoXForCausalLM

    torch.manual_seed(SEED)
    model = GPTNeoXForCausalLM(model_config()).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for step in steps:
        gen = torch.Generator().manual_seed(SEED + 1 + step)
        for name, tensor in state.items():
            if tensor.is_floating_point():
                scale = 0.1 * max(float(tensor.std()) if tensor.numel() > 1 else 0.0, 0.02)
                tensor += scale * torch.randn(tensor.shape, generator=gen)
            state[name] = tensor
        model.load_state_dict(state, strict=True)
        target = folder / f"checkpoint-{step}"
        model.save_pretrained(target, safe_serialization=True)
        (target / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def probe_inputs(sequences: int, tokens: int) -> dict[str, torch.Tensor]:
    """Random token ids (seeded); a quarter of the sequences shorter, right-padded with 0."""
    gen = torch.Generator().manual_seed(SEED)
    ids = torch.randint(0, MODEL["vocab_size"], (sequences, tokens), generator=gen)
    lengths = torch.full((sequences,), tokens)
    short = torch.randperm(sequences, generator=gen)[: sequences // 4]
    lengths[short] = torch.randint(tokens // 2, tokens, (len(short),), generator=gen)
    mask = (torch.arange(tokens)[None, :] < lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def probe_layers(n_layers: int) -> list[str]:
    """The modules whose outputs are ``hidden_states[1 … n]``."""
    return [f"gpt_neox.layers.{i}" for i in range(n_layers - 1)] + ["gpt_neox.final_layer_norm"]


def make_probe(inputs: dict[str, torch.Tensor], autocast: str | None = None, **options: Any):
    from repscope import Probe

    return Probe(
        inputs, layers=probe_layers(MODEL["num_hidden_layers"]), autocast=autocast, **options
    )


# ---------------------------------------------------------------------------------------------
# the two sides


def repscope_scan(
    folder: Path,
    inputs: dict[str, torch.Tensor],
    store: Path,
    on_record: Callable | None = None,
    autocast: str | None = None,
    errors: str = "jackknife",
):
    from repscope import CheckpointFolder, Trajectory

    traj = Trajectory(
        CheckpointFolder(folder),
        make_probe(inputs, autocast),
        store=store,
        fit_range=FIT_RANGE,
        errors=errors,
    )
    return traj.compute(progress=False, on_record=on_record)


def repscope_values(traj) -> dict[tuple[int, str], tuple[float, float]]:
    frame = traj.metrics.pivot_table(index=["step", "layer"], columns="measure", values="value")
    return {key: (row["effective_rank"], row["alpha"]) for key, row in frame.iterrows()}


def tracing_measures(acts: np.ndarray) -> tuple[float, float]:
    eigenvalues = PCA(svd_solver="full").fit(acts).explained_variance_
    eigenvalues = eigenvalues.astype(np.float64)
    return tracing_rankme(eigenvalues, RANKME_EPS), tracing_alpha(eigenvalues, FIT_RANGE)


def tracing_activations(model, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
    """Every sequence alone, unpadded; the last token of ``hidden_states[1 … n]``."""
    rows: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"], strict=True):
            seq = ids[: int(mask.sum())].unsqueeze(0)
            out = model(seq, output_hidden_states=True)
            rows.append([h[0, -1] for h in out.hidden_states[1:]])
    return [torch.stack(layer).float().numpy() for layer in zip(*rows, strict=True)]


def baseline_scan(
    folder: Path, inputs: dict[str, torch.Tensor], limit: int | None = None, keep_acts: bool = False
) -> dict[str, Any]:
    """The tracing paper's loop over checkpoints; values keyed like repscope's metrics."""
    from transformers import GPTNeoXForCausalLM

    layers = probe_layers(MODEL["num_hidden_layers"])
    folders = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    values, acts = {}, {}
    for path in folders[:limit]:
        step = int(path.name.split("-")[1])
        model = GPTNeoXForCausalLM.from_pretrained(path).eval()
        per_layer = tracing_activations(model, inputs)
        for name, matrix in zip(layers, per_layer, strict=True):
            values[step, name] = tracing_measures(matrix)
            if keep_acts:
                acts[step, name] = matrix
        del model
    return {"values": values, "acts": acts}


# ---------------------------------------------------------------------------------------------
# counting and timing what a scan does


@contextlib.contextmanager
def patched(owner: Any, name: str, wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """Replace ``owner.name`` by ``wrap(original)`` for the duration (classmethods kept)."""
    raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    is_classmethod = isinstance(raw, classmethod)
    original = raw.__func__ if is_classmethod else raw
    replacement = wrap(original)
    setattr(owner, name, classmethod(replacement) if is_classmethod else replacement)
    try:
        yield
    finally:
        setattr(owner, name, raw)


def counting(counts: dict[str, int], key: str) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[key] = counts.get(key, 0) + 1
            return fn(*args, **kwargs)

        return counted

    return wrap


def timing(seconds: dict[str, float], key: str) -> Callable[[Callable], Callable]:
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start

        return timed

    return wrap


@contextlib.contextmanager
def load_counters(counts: dict[str, int]) -> Iterator[None]:
    """Count ``TrainerCheckpoint.load`` and ``PreTrainedModel.from_pretrained`` calls."""
    from transformers import PreTrainedModel

    from repscope.sources.folder import TrainerCheckpoint

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(TrainerCheckpoint, "load", counting(counts, "load")))
        stack.enter_context(
            patched(PreTrainedModel, "from_pretrained", counting(counts, "from_pretrained"))
        )
        yield


@contextlib.contextmanager
def part_timers(seconds: dict[str, float]) -> Iterator[None]:
    """Time the parts of a scan: fingerprint, load, probe, geometry, store."""
    import repscope.scan
    from repscope import Probe
    from repscope.sources.folder import TrainerCheckpoint
    from repscope.store import Store

    parts = [
        (TrainerCheckpoint, "fingerprint", "fingerprint_s"),
        (TrainerCheckpoint, "load", "load_s"),
        (Probe, "capture", "probe_forward_s"),
        (repscope.scan, "measures_of", "geometry_s"),
        (Store, "put", "store_put_s"),
    ]
    with contextlib.ExitStack() as stack:
        for owner, name, key in parts:
            stack.enter_context(patched(owner, name, timing(seconds, key)))
        yield


# ---------------------------------------------------------------------------------------------
# memory: a scan in a fresh process


def memory_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0])
    return fields


def memory_scan(
    folder: str, inputs: dict[str, torch.Tensor], store: str, threads: int, model: str
) -> dict[str, Any]:
    """Run in a spawned process: a scan with VmRSS/VmHWM sampled after each checkpoint."""
    select_model(model)
    set_threads(threads)  # also imports transformers and repscope before the peak is reset

    samples: list[dict[str, int]] = []
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = memory_status()
    repscope_scan(
        Path(folder),
        inputs,
        Path(store),
        on_record=lambda _records: samples.append(memory_status()),
    )
    return {"hwm_reset": reset, "before": before, "samples": samples}


def run_memory(
    folder: Path, inputs: dict[str, torch.Tensor], work: Path, model: str
) -> dict[str, Any]:
    log("memory: a scan in a fresh process, /proc/self/status after each checkpoint")
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        out = pool.submit(
            memory_scan,
            str(folder),
            inputs,
            str(work / "memory.sqlite"),
            torch.get_num_threads(),
            model,
        ).result()
    samples = out["samples"]
    first, last = samples[min(MEMORY_AT, len(samples)) - 1], samples[-1]
    ratio = last["VmHWM"] / first["VmHWM"]
    if not out["hwm_reset"]:
        NOTES.append("memory: /proc/self/clear_refs not writable; VmHWM includes the imports")
    return {
        "section": "memory",
        "checkpoints": len(samples),
        "hwm_reset_before_scan": out["hwm_reset"],
        "rss_before_scan_kb": out["before"]["VmRSS"],
        f"peak_rss_after_{MEMORY_AT}_kb": first["VmHWM"],
        f"peak_rss_after_{len(samples)}_kb": last["VmHWM"],
        "peak_ratio": round(ratio, 4),
        f"rss_after_{MEMORY_AT}_kb": first["VmRSS"],
        f"rss_after_{len(samples)}_kb": last["VmRSS"],
        "rss_ratio": round(last["VmRSS"] / first["VmRSS"], 4),
        "rss_kb_by_checkpoint": [s["VmRSS"] for s in samples],
        "peak_kb_by_checkpoint": [s["VmHWM"] for s in samples],
        "target": f"peak_ratio <= 1.10 (peak after the last checkpoint vs after the {MEMORY_AT}th)",
        "checks": {"peak_ratio": ratio <= 1.10},
    }


# ---------------------------------------------------------------------------------------------
# sections


def run_end_to_end(
    folder: Path,
    inputs: dict[str, torch.Tensor],
    work: Path,
    repeats: int,
    autocast: str | None = None,
) -> tuple[list[dict[str, Any]], Path]:
    """The scan against the baseline loop, interleaved round by round; with ``autocast``, a
    second repscope side (the same probe under ``autocast``) in the same rounds."""
    counter = iter(range(1_000_000))
    sides = {"repscope": None, **({"repscope_autocast": autocast} if autocast else {})}

    def ours(side: str) -> tuple[Any, Path]:
        store = work / f"e2e-{next(counter)}.sqlite"
        return repscope_scan(folder, inputs, store, autocast=sides[side]), store

    log("end_to_end: warm-up (repscope scan, baseline on one checkpoint)")
    for side in sides:
        ours(side)
    baseline_scan(folder, inputs, limit=1)
    times: dict[str, list[float]] = {side: [] for side in (*sides, "baseline")}
    counts: dict[str, dict[str, int]] = {side: {} for side in sides}
    results: dict[str, tuple[Any, Path]] = {}
    loads = []
    for round_ in range(repeats):
        loads.append(round(os.getloadavg()[0], 2))
        for side in sides:
            log(f"end_to_end: round {round_ + 1}/{repeats}: {side} scan")
            start = time.perf_counter()
            with load_counters(counts[side]):
                results[side] = ours(side)
            times[side].append(time.perf_counter() - start)
            log(f"  {times[side][-1]:.2f} s")
        log(f"end_to_end: round {round_ + 1}/{repeats}: baseline loop")
        start = time.perf_counter()
        base = baseline_scan(folder, inputs, keep_acts=round_ == repeats - 1)
        times["baseline"].append(time.perf_counter() - start)
        log(f"  {times['baseline'][-1]:.2f} s")

    capture = capture_facts(folder, inputs, base["acts"])
    records = [
        end_to_end_record(
            side,
            results[side][0],
            base,
            times,
            counts[side],
            loads,
            capture,
            inputs,
            repeats,
            autocast=sides[side],
        )
        for side in sides
    ]
    return records, results["repscope"][1]


def end_to_end_record(
    side: str,
    traj: Any,
    base: dict[str, Any],
    times: dict[str, list[float]],
    counts: dict[str, int],
    loads: list[float],
    capture: dict[str, Any],
    inputs: dict[str, torch.Tensor],
    repeats: int,
    autocast: str | None,
) -> dict[str, Any]:
    """One repscope side's record: times, ratio against the baseline, values compared."""
    ours_values, base_values = repscope_values(traj), base["values"]
    if set(ours_values) != set(base_values):
        raise RuntimeError(
            f"different (step, layer) keys: {sorted(ours_values)[:4]} vs {sorted(base_values)[:4]}"
        )
    diffs = {
        key: [rel_diff(o, b) for o, b in zip(ours_values[key], base_values[key], strict=True)]
        for key in base_values
    }
    # The baseline's formulas on its own activations in float64: what is left is the difference
    # between the batched, padded forward pass and the one-sequence-at-a-time one.
    f64 = {key: tracing_measures(acts.astype(np.float64)) for key, acts in base["acts"].items()}
    diffs_f64 = {
        key: [rel_diff(o, b) for o, b in zip(ours_values[key], f64[key], strict=True)]
        for key in f64
    }
    best = {key: min(times[key]) for key in (side, "baseline")}
    ratio = best["baseline"] / best[side]
    max_diff = max(max(d) for d in diffs.values())
    worst = max(diffs, key=lambda k: max(diffs[k]))
    n_ckpt = len({step for step, _ in base_values})
    tolerance = VALUE_TOLERANCE if autocast is None else AUTOCAST_TOLERANCE
    return {
        "section": "end_to_end" if autocast is None else "end_to_end_autocast",
        "autocast": autocast,
        "checkpoints": n_ckpt,
        "sequences": len(inputs["input_ids"]),
        "tokens": inputs["input_ids"].shape[1],
        "layers": probe_layers(MODEL["num_hidden_layers"]),
        "layer_mapping": "gpt_neox.layers.i (i < n-1) <-> hidden_states[i+1]; "
        "gpt_neox.final_layer_norm <-> hidden_states[n] (HF's last entry is after the final "
        "layer norm); all n layers compared",
        "repscope_s": round(best[side], 4),
        "repscope_median_s": round(statistics.median(times[side]), 4),
        "baseline_s": round(best["baseline"], 4),
        "baseline_median_s": round(statistics.median(times["baseline"]), 4),
        "rounds_s": {key: [round(t, 4) for t in times[key]] for key in (side, "baseline")},
        "load_average_1min_by_round": loads,
        "ratio": round(ratio, 3),
        "ratio_median": round(
            statistics.median(times["baseline"]) / statistics.median(times[side]), 3
        ),
        "ratio_by_round": [
            round(b / r, 3) for r, b in zip(times[side], times["baseline"], strict=True)
        ],
        "repscope_per_checkpoint_s": round(best[side] / n_ckpt, 4),
        "baseline_per_checkpoint_s": round(best["baseline"] / n_ckpt, 4),
        "repscope_loads_per_scan": {k: v / repeats for k, v in counts.items()},
        "max_rel_diff": max_diff,
        "max_rel_diff_rankme": max(d[0] for d in diffs.values()),
        "max_rel_diff_alpha": max(d[1] for d in diffs.values()),
        "worst": {
            "step": worst[0],
            "layer": worst[1],
            "repscope": list(ours_values[worst]),
            "baseline": list(base_values[worst]),
        },
        "max_rel_diff_vs_baseline_f64_pca": max(max(d) for d in diffs_f64.values()),
        **(capture if autocast is None else {}),
        "values_compared": 2 * len(diffs),
        "baseline": "per checkpoint from_pretrained; batch size 1, unpadded, float32, no_grad, "
        "output_hidden_states=True; sklearn PCA(svd_solver='full') on float32 activations; "
        "RankMe and alpha in numpy",
        "target": f"ratio >= 5; max_rel_diff <= {tolerance:g}"
        + ("" if autocast is None else f" ({autocast} forward pass: bf16-size differences)"),
        "checks": {"ratio": ratio >= 5, "values": max_diff <= tolerance},
    }


def capture_facts(
    folder: Path, inputs: dict[str, torch.Tensor], base_acts: dict[tuple[int, str], np.ndarray]
) -> dict[str, Any]:
    """At the last checkpoint: max |repscope's activations - the baseline's|, the batch size
    ``"auto"`` chose, and one capture with and one without stopping after the last layer."""
    from repscope import CheckpointFolder

    ckpt = list(CheckpointFolder(folder))[-1]
    model = ckpt.load()
    facts: dict[str, Any] = {}
    for label, stop_early in (("stop_early", True), ("full_forward", False)):
        probe = make_probe(inputs, stop_early=stop_early)
        facts[f"auto_batch_size_{label}"] = probe.batch_size_for(model)  # also learns the calls
        start = time.perf_counter()
        captured = probe.capture(model)
        facts[f"capture_{label}_s"] = round(time.perf_counter() - start, 4)
        if stop_early:
            facts["activations_max_abs_diff"] = max(
                float(np.max(np.abs(acts.numpy() - base_acts[ckpt.step, name])))
                for name, acts in captured.items()
            )
    return facts


def run_second_scan(
    folder: Path, inputs: dict[str, torch.Tensor], store: Path, repeats: int
) -> dict[str, Any]:
    """A new Trajectory on the filled store: time each part, count loads."""
    from repscope import CheckpointFolder, Trajectory

    log("second_scan: a new Trajectory on the filled store")
    rounds = []
    for _ in range(max(repeats, 3)):
        counts: dict[str, int] = {}
        with load_counters(counts):
            start = time.perf_counter()
            traj = Trajectory(
                CheckpointFolder(folder), make_probe(inputs), store=store, fit_range=FIT_RANGE
            )
            opened = time.perf_counter()
            pending = len(traj.pending())
            checked = time.perf_counter()
            traj.compute(progress=False)
            computed = time.perf_counter()
            rows = len(traj.metrics)
            read = time.perf_counter()
        rounds.append(
            {
                "open_s": opened - start,
                "pending_s": checked - opened,
                "compute_s": computed - checked,
                "metrics_s": read - computed,
                "total_s": read - start,
                "pending": pending,
                "rows": rows,
                **counts,
            }
        )
        traj.store.close()
    best = {
        key: min(r[key] for r in rounds)
        for key in ("open_s", "pending_s", "compute_s", "metrics_s", "total_s")
    }
    loads = max(r.get("load", 0) + r.get("from_pretrained", 0) for r in rounds)
    pending = max(r["pending"] for r in rounds)
    return {
        "section": "second_scan",
        **{key: round(value, 5) for key, value in best.items()},
        "compute_median_s": round(statistics.median(r["compute_s"] for r in rounds), 5),
        "rounds": len(rounds),
        "pending_before_compute": pending,
        "model_loads_during_compute": loads,
        "metric_rows": rounds[-1]["rows"],
        "target": "compute_s < 1; nothing pending, no model loaded",
        "checks": {
            "compute_s": best["compute_s"] < 1.0,
            "nothing_recomputed": pending == 0 and loads == 0,
        },
    }


def run_error_bars(
    folder: Path, inputs: dict[str, torch.Tensor], work: Path, repeats: int
) -> dict[str, Any]:
    """The scan with and without its error bars, interleaved; each in a fresh store."""
    counter = iter(range(1_000_000))
    sides = ("jackknife", "none")

    def scan(errors: str):
        return repscope_scan(folder, inputs, work / f"errors-{next(counter)}.sqlite", errors=errors)

    log("error_bars: warm-up")
    for side in sides:
        scan(side)
    times: dict[str, list[float]] = {side: [] for side in sides}
    traj = None
    for round_ in range(max(repeats, 2)):
        for side in sides:
            start = time.perf_counter()
            result = scan(side)
            times[side].append(time.perf_counter() - start)
            log(f"error_bars: round {round_ + 1}: errors={side} {times[side][-1]:.2f} s")
            if side == "jackknife":
                traj = result
    with_, without = min(times["jackknife"]), min(times["none"])
    overhead = with_ / without - 1
    metrics = traj.metrics.query("measure in ['effective_rank', 'alpha']")
    inside = ((metrics.value >= metrics.lower) & (metrics.value <= metrics.upper)).mean()
    return {
        "section": "error_bars",
        "with_error_bars_s": round(with_, 3),
        "without_s": round(without, 3),
        "with_all_s": [round(t, 3) for t in times["jackknife"]],
        "without_all_s": [round(t, 3) for t in times["none"]],
        "overhead": round(overhead, 3),
        "budget": ERROR_BARS_BUDGET,
        "share_of_values_inside_their_interval": round(float(inside), 3),
        "checks": {"overhead_within_budget": overhead <= ERROR_BARS_BUDGET},
    }


def run_breakdown(folder: Path, inputs: dict[str, torch.Tensor], work: Path) -> dict[str, Any]:
    """Where a scan's time goes, and what a bare from_pretrained costs beside its load."""
    from transformers import GPTNeoXForCausalLM

    log("breakdown: one scan with its parts timed; bare from_pretrained of each checkpoint")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    with part_timers(seconds):
        traj = repscope_scan(folder, inputs, work / "breakdown.sqlite")
    total = time.perf_counter() - start
    n_ckpt = len(traj.steps)
    start = time.perf_counter()
    for path in sorted(folder.glob("checkpoint-*")):
        GPTNeoXForCausalLM.from_pretrained(path).eval()
    bare = time.perf_counter() - start
    parts = {key: round(value, 4) for key, value in sorted(seconds.items())}
    return {
        "section": "breakdown",
        "checkpoints": n_ckpt,
        "scan_s": round(total, 4),
        **parts,
        "other_s": round(total - sum(seconds.values()), 4),
        "bare_from_pretrained_s": round(bare, 4),
        "load_over_bare_from_pretrained": round(seconds.get("load_s", 0.0) / bare, 3),
        "target": "information only",
        "checks": {},
    }


# ---------------------------------------------------------------------------------------------
# command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="the reduced size (a smoke run with the tiny model)"
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="tiny",
        help="tiny GPTNeoX (default) or Pythia-70m's shape with random weights",
    )
    parser.add_argument(
        "--size",
        choices=("full", "reduced"),
        default=None,
        help="checkpoints and probe size (default full; reduced with --quick); see the docstring",
    )
    parser.add_argument(
        "--autocast",
        choices=("bf16", "fp16"),
        default=None,
        help="also time a repscope side with Probe(autocast=...) against the same baseline",
    )
    parser.add_argument(
        "--only",
        type=sections_arg,
        default=list(SECTIONS),
        metavar="SECTION[,SECTION]",
        help=f"run only these sections, among {', '.join(SECTIONS)} (default: all); "
        "second_scan needs end_to_end",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        metavar="N",
        help="timed rounds after the warm-up (default 2; 1 with the reduced size)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch/BLAS threads for both sides (default: os.cpu_count())",
    )
    parser.add_argument(
        "--checkpoints",
        type=int,
        default=None,
        metavar="N",
        help="checkpoints, instead of the size's",
    )
    parser.add_argument(
        "--sequences",
        type=int,
        default=None,
        metavar="N",
        help="probe sequences, instead of the size's (error bars need more inputs than features)",
    )
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.quick and args.size == "full":
        parser.error("--quick is --size reduced: not both --quick and --size full")
    args.size = args.size or ("reduced" if args.quick else "full")
    if args.repeats is None:
        args.repeats = 1 if args.size == "reduced" else 2
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if "second_scan" in args.only and "end_to_end" not in args.only:
        parser.error("--only second_scan needs end_to_end (it reopens that scan's store)")
    return args


def sections_arg(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {unknown}; choose among {', '.join(SECTIONS)}"
        )
    return [name for name in SECTIONS if name in names]


def set_threads(threads: int | None) -> int:
    """Every core (or ``threads``) for torch and the BLAS pools; transformers' bars off."""
    import transformers

    import repscope  # noqa: F401

    transformers.utils.logging.disable_progress_bar()
    use_all_cores()
    if threads is not None:
        torch.set_num_threads(threads)
        threadpoolctl.threadpool_limits(limits=threads)
    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    select_model(args.model)
    threads = set_threads(args.threads)
    if args.threads is not None:
        NOTES.append(
            f"--threads {args.threads}: not every core (os.cpu_count() = {os.cpu_count()})"
        )
    sizes = dict(SIZES[args.model][args.size])
    if args.sequences is not None:
        sizes["sequences"] = args.sequences
        NOTES.append(f"--sequences {args.sequences}: probe size overridden")
    if args.checkpoints is not None:
        sizes["checkpoints"] = args.checkpoints
        NOTES.append(f"--checkpoints {args.checkpoints}: checkpoints overridden")
    if args.model == "tiny" and args.size == "reduced":
        NOTES.append("--quick: sizes too small for the targets; pass/fail is indicative")
    if args.model != "tiny" and args.size == "reduced":
        NOTES.append(
            f"--size reduced: {sizes['checkpoints']} checkpoints, {sizes['sequences']} probe "
            "sequences; the model is full-size (the figure is for this size, not Pythia's 20 × "
            "2048)"
        )
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="repscope-bench-scan-") as tmp:
        work = Path(tmp)
        folder = work / "run"
        folder.mkdir()
        steps = log_steps(sizes["checkpoints"])
        log(f"setup: {len(steps)} checkpoints of a {args.model} GPTNeoX in {folder}")
        write_checkpoints(folder, steps)
        inputs = probe_inputs(sizes["sequences"], sizes["tokens"])
        records = []
        if "end_to_end" in args.only:
            e2e, store = run_end_to_end(folder, inputs, work, args.repeats, args.autocast)
            records += e2e
        if "second_scan" in args.only:
            records.append(run_second_scan(folder, inputs, store, args.repeats))
        if "memory" in args.only:
            records.append(run_memory(folder, inputs, work, args.model))
        if "breakdown" in args.only:
            records.append(run_breakdown(folder, inputs, work))
        if "error_bars" in args.only:
            records.append(run_error_bars(folder, inputs, work, args.repeats))
        weights_kb = (folder / f"checkpoint-{steps[-1]}" / "model.safetensors").stat().st_size
    for record in records:
        record["pass"] = all(record["checks"].values())
    report = {
        "benchmark": "scan",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "model": args.model,
        "size": args.size,
        "repeats": args.repeats,
        "warmup": 1,
        "statistic": "*_s: best of the rounds (sides interleaved); *_median_s: their median; "
        "ratio from the best",
        "setup": {
            "model": {"class": "GPTNeoXForCausalLM", **MODEL},
            "weights_file_kb": round(weights_kb / 1024, 1),
            "steps": steps,
            "probe": {
                "sequences": sizes["sequences"],
                "tokens": sizes["tokens"],
                "padded": "a quarter right-padded (lengths tokens/2 … tokens-1)",
                "representation": "last_token",
                "batch_size": "auto (see end_to_end auto_batch_size_*)",
                "autocast": args.autocast,
            },
            "fit_range": list(FIT_RANGE),
            "store": "SQLite file in the temporary folder",
        },
    }
    emit_report(
        report,
        records=records,
        notes=NOTES,
        load_at_start=load_at_start,
        threads=threads,
        out=args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
