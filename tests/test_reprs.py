"""What a person reads when they print a probe, a trajectory or a store: sentences, not key
JSON."""

import re

import numpy as np
import torch

import repscope
from repscope import Probe
from repscope.synthetic import synthetic_trajectory


def test_a_probe_reads_as_its_inputs_layers_and_representation():
    probe = Probe(torch.randn(40, 6), layers=["1", "3"], labels=np.arange(40) % 4)
    assert repr(probe) == "<Probe: 40 inputs of 6 values; layers 1, 3; last_token, 4 labels>"
    tokens = Probe(torch.randint(0, 9, (8, 12)), representation="first")
    assert repr(tokens) == "<Probe: 8 inputs of 12 tokens; layers every block; first>"


def test_a_trajectory_and_a_store_read_as_sentences(tmp_path):
    path = tmp_path / "run.sqlite"
    traj = synthetic_trajectory(n_steps=6, layers=("h.0", "h.1"), store=path)
    text = repr(traj)
    assert text.startswith("<Trajectory 'synthetic': 6 steps (0 … 32), layers h.0, h.1;")
    assert "starts init" in text and "error bars jackknife×10" in text
    assert "{" not in text  # no key JSON
    store = repr(repscope.open(path))
    assert "run 'synthetic': synthetic; starts at initialisation" in store
    assert re.search(r"measured covariance, α 2–16, error bars jackknife×10", store)
    assert "{" not in store and '"' not in store
