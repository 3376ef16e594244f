"""``repscope scan``: turn command-line arguments into a source, a probe and a trajectory."""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib
from pathlib import Path

import torch

from .probe import Probe
from .sources.folder import CheckpointFolder
from .sources.hub import HubRevisions
from .store import Store
from .trajectory import Trajectory


def _factory(spec: str | None):
    if spec is None:
        return None
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"--model must be MODULE:FUNCTION; got {spec!r}.")
    return getattr(importlib.import_module(module), name)


def _source(args: argparse.Namespace):
    if args.source.startswith("hf:"):
        steps = args.steps if args.steps == "pythia" else [int(s) for s in args.steps.split(",")]
        return HubRevisions(args.source[3:], steps=steps, revision=args.revision, run=args.run)
    return CheckpointFolder(args.source, model=_factory(args.model), run=args.run)


def _probe(args: argparse.Namespace) -> Probe:
    layers = args.layers.split(",") if args.layers else None
    options = dict(layers=layers, representation=args.representation)
    if args.probe_texts:
        if not args.tokenizer:
            raise ValueError("--probe-texts needs --tokenizer.")
        from transformers import AutoTokenizer

        texts = [t for t in Path(args.probe_texts).read_text().splitlines() if t.strip()]
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        return Probe.from_texts(texts, tokenizer, max_length=args.max_length, **options)
    if not args.probe:
        raise ValueError("give the probe inputs: --probe FILE.safetensors or --probe-texts FILE.")
    from safetensors.torch import load_file

    tensors = load_file(args.probe)
    labels = tensors.pop("labels", None)
    if "input_ids" in tensors:
        return Probe(tensors, labels=labels, **options)
    if "inputs" in tensors:
        return Probe(tensors["inputs"], labels=labels, **options)
    raise ValueError(f"{args.probe} holds {sorted(tensors)}; expected 'input_ids' or 'inputs'.")


def _sigma(text: str) -> float | str:
    return text if text in ("median", "sqrt_dim") else float(text)


def run_scan(args: argparse.Namespace) -> int:
    from .cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL

    source, probe = _source(args), _probe(args)
    store = Store(args.store)
    traj = Trajectory(source, probe, store=store, run=args.run, device=args.device,
                      view=args.view, kind=args.kind, fit_range=args.fit_range, dse=args.dse,
                      sigma=_sigma(args.sigma), t=args.t)
    pending = len(traj.pending())
    print(f"{traj.run}: {len(source)} checkpoints, {len(source) - pending} already in "
          f"{args.store}, {pending} to measure.")
    if args.workers:
        torch.set_num_threads(1)
        with cf.ProcessPoolExecutor(max_workers=args.workers) as pool:
            traj.compute(pool, progress=not args.no_progress)
    else:
        traj.compute(progress=not args.no_progress)
    failures = traj.failures
    for row in failures.itertuples():
        print(f"failed: step {row.step}" + ("" if row.layer == "*" else f", layer {row.layer}")
              + f": {row.error}")
    if not traj.layers:
        print("no checkpoint could be measured.")
        return EXIT_ERROR
    table = traj.phase_table(args.phase_layer)
    layer = args.phase_layer or traj.layers[-1]
    print(f"\nphases of layer {layer} (RankMe: {traj.config.spectrum_kind} convention):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:+.3f}") if len(table)
          else "no phase detected.")
    return EXIT_PARTIAL if len(failures) else EXIT_OK
