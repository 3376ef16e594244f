"""The other views a scan can take of a layer: its weight matrix, and its gradient on the probe.

Weights (the rich/lazy-learning view): how the effective rank of each weight matrix changes and
how far it moved since the first checkpoint. Gradients (the layer-wise gradient-spectrum view):
the effective rank and nuclear norm of each layer's weight gradient on the probe batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .probe import Probe, ProbeError


def _weight(model: torch.nn.Module, name: str) -> torch.Tensor:
    module = dict(model.named_modules())[name]
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim < 2:
        raise ProbeError(f"layer {name!r} ({type(module).__name__}) has no weight matrix.")
    return weight


def weight_matrices(model: torch.nn.Module, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{layer: weight as (out_features, in_features·…)}``, detached copies on the CPU."""
    return {
        name: _weight(model, name)
        .detach()
        .reshape(_weight(model, name).shape[0], -1)
        .to("cpu", torch.float64)
        .clone()
        for name in layers
    }


def default_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """The model's own loss: a causal LM's next-token loss on the probe tokens."""
    if not isinstance(batch, dict) or "input_ids" not in batch:
        raise ProbeError(
            "the gradient view needs a loss: pass loss_fn=(model, batch) -> loss "
            "for a model that is not a Hugging Face language model."
        )
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    output = model(**batch, labels=labels)
    loss = getattr(output, "loss", None)
    if loss is None:
        raise ProbeError("the model returned no loss for labels=input_ids: pass loss_fn.")
    return loss


def gradient_matrices(
    model: torch.nn.Module,
    probe: Probe,
    layers: Sequence[str],
    *,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """``{layer: gradient of the mean probe loss w.r.t. the layer's weight, as a matrix}``.

    The loss is averaged over the probe's batches (each batch weighted by its size).
    """
    loss_fn = loss_fn or default_loss
    weights = {name: _weight(model, name) for name in layers}
    for p in model.parameters():
        p.grad = None
    device = next(model.parameters()).device
    with torch.enable_grad():
        for args, _mask in probe.batches(device):
            n = len(args["input_ids"] if isinstance(args, dict) else args)
            loss = loss_fn(model, args) * (n / probe.n_samples)
            loss.backward()
    out = {}
    for name, w in weights.items():
        if w.grad is None:
            raise ProbeError(f"layer {name!r} got no gradient from the loss.")
        out[name] = w.grad.detach().reshape(w.shape[0], -1).to("cpu", torch.float64).clone()
    model.zero_grad(set_to_none=True)
    return out
