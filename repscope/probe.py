"""Run one model on fixed probe inputs and capture named layers.

A :class:`Probe` holds the inputs (a tensor, token ids with an attention mask, or tokenised
texts) and the layer names. :meth:`Probe.capture` runs the model in ``torch.inference_mode()``,
batched, on the model's device, and captures each named module's output with a forward hook.
For sequence outputs ``(N, T, D)`` the default representation is the last non-padding token of
each sequence (as in the tracing paper); ``"mean"`` over tokens and ``"all"`` tokens are options.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from ._validation import _describe, check_int, check_option, fail

Representation = Literal["last_token", "mean", "all"]
REPRESENTATIONS = ("last_token", "mean", "all")


class ProbeError(RuntimeError):
    """The probe cannot run on this model (unknown layer, too long a context, NaN activations)."""


def default_layers(model: torch.nn.Module) -> list[str]:
    """Every block of the model's longest ``ModuleList`` (the transformer layers), in order.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ModuleList(
    ...     [torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)]))
    >>> default_layers(net)
    ['1.0', '1.1']
    """
    lists = [(name, m) for name, m in model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        raise ProbeError("The model has no ModuleList of blocks: name the layers to capture.")
    name, blocks = max(lists, key=lambda item: len(item[1]))
    return [f"{name}.{i}" if name else str(i) for i in range(len(blocks))]


def _first_tensor(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ProbeError(f"a captured module returned {type(output).__name__}, not a tensor.")


def _context_length(model: torch.nn.Module) -> int | None:
    config = getattr(model, "config", None)
    for attr in ("max_position_embeddings", "n_positions", "n_ctx", "block_size"):
        value = getattr(config, attr, None) or getattr(model, attr, None)
        if isinstance(value, int):
            return value
    return None


def _labels(labels: Any, func: str) -> np.ndarray:
    """Labels as a 1-D (or 2-D) numpy array, from a list, an array or a tensor on any device."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().to("cpu")
        labels = labels.to(torch.float64) if labels.is_floating_point() else labels
        labels = labels.numpy()
    try:
        arr = np.asarray(labels)
    except Exception:  # ragged lists
        arr = None
    if arr is None or arr.ndim not in (1, 2) or arr.dtype == object:
        fail("labels", func, "an array of one label per probe input", _describe(labels),
             error=TypeError)
    return arr


class Probe:
    """Fixed probe inputs and the layers to capture.

    Parameters
    ----------
    inputs : torch.Tensor, numpy array, or mapping of str to tensors
        A tensor ``(n_samples, ...)`` passed as ``model(batch)``; integer token ids
        ``(n_samples, n_tokens)``; or a tokenizer's output ``{"input_ids": …, "attention_mask":
        …}`` passed as ``model(**batch)``.
    layers : sequence of str, optional
        Module names (as in ``model.named_modules()``). Default: the blocks of the model's
        longest ``ModuleList`` (see :func:`default_layers`).
    representation : {"last_token", "mean", "all"}, default "last_token"
        How a sequence output ``(N, T, D)`` becomes rows: the last non-padding token of each
        sequence, the mean over its non-padding tokens, or every non-padding token.
    batch_size : int, default 64
    labels : array of shape (n_samples,), optional
        Labels of the probe points (for DSMI and for colouring points in the widgets).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> probe = Probe(torch.randn(10, 4), layers=["0", "2"])
    >>> {k: tuple(v.shape) for k, v in probe.capture(net).items()}
    {'0': (10, 8), '2': (10, 3)}
    """

    def __init__(self, inputs: Any, *, layers: Sequence[str] | None = None,
                 representation: Representation = "last_token", batch_size: int = 64,
                 labels: Any = None):
        func = "Probe"
        self.inputs, self.mask = self._normalise_inputs(inputs, func)
        self.n_samples = len(next(iter(self.inputs.values())))
        if layers is not None and (isinstance(layers, str) or not all(
                isinstance(n, str) for n in layers)):
            fail("layers", func, "a sequence of module names", _describe(layers), error=TypeError)
        self.layers = list(layers) if layers is not None else None
        self.representation = check_option(representation, name="representation", func=func,
                                           options=REPRESENTATIONS)
        self.batch_size = check_int(batch_size, name="batch_size", func=func, low=1)
        self.labels = None if labels is None else _labels(labels, func)
        if self.labels is not None and len(self.labels) != self.n_samples:
            fail("labels", func, f"one label per probe input ({self.n_samples})",
                 f"{len(self.labels)} labels")

    @staticmethod
    def _normalise_inputs(inputs: Any, func: str) -> tuple[dict[str, torch.Tensor], Any]:
        if isinstance(inputs, Mapping):
            tensors = {k: torch.as_tensor(v) for k, v in inputs.items()}
            if "input_ids" not in tensors:
                fail("inputs", func, "a mapping with 'input_ids' (a tokenizer's output)",
                     f"keys {sorted(tensors)}")
            mask = tensors.get("attention_mask")
            if mask is None:
                mask = torch.ones_like(tensors["input_ids"])
                tensors["attention_mask"] = mask
            return tensors, mask
        if isinstance(inputs, (torch.Tensor, np.ndarray)):
            tensor = torch.as_tensor(inputs)
            if tensor.ndim < 1 or len(tensor) < 2:
                fail("inputs", func, "at least 2 probe inputs", f"shape {tuple(tensor.shape)}")
            if not tensor.is_floating_point() and tensor.ndim == 2:  # token ids
                return {"input_ids": tensor, "attention_mask": torch.ones_like(tensor)}, \
                    torch.ones_like(tensor)
            return {"": tensor}, None
        fail("inputs", func, "a tensor, an array or a tokenizer's output", _describe(inputs),
             error=TypeError)

    @classmethod
    def from_texts(cls, texts: Sequence[str], tokenizer: Any, *, max_length: int = 64,
                   **kwargs: Any) -> Probe:
        """Tokenise ``texts`` (right-padded, truncated to ``max_length``) into a probe."""
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        encoded = tokenizer(list(texts), padding="max_length", truncation=True,
                            max_length=max_length, return_tensors="pt")
        probe = cls({"input_ids": encoded["input_ids"],
                     "attention_mask": encoded["attention_mask"]}, **kwargs)
        probe.texts = list(texts)
        probe.tokenizer = getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
        probe.max_length = int(max_length)
        return probe

    def describe(self) -> dict[str, Any]:
        """What the store records of this probe (``repscope.open`` reads it back): layers,
        representation, number of inputs, labels, texts, tokenizer and ``max_length``. The
        inputs themselves are not recorded."""
        labels = None if self.labels is None else np.asarray(self.labels).tolist()
        return {"layers": self.layers, "representation": self.representation,
                "n_inputs": self.n_samples, "labels": labels,
                "texts": getattr(self, "texts", None),
                "tokenizer": getattr(self, "tokenizer", None),
                "max_length": getattr(self, "max_length", None)}

    # -- identity ------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A hash of the inputs, the layers and the representation: the probe's store key."""
        digest = hashlib.sha256()
        for key in sorted(self.inputs):
            tensor = self.inputs[key].contiguous()
            digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.numpy().tobytes())
        digest.update(f"{self.layers}|{self.representation}".encode())
        return "probe:" + digest.hexdigest()[:32]

    # -- running -------------------------------------------------------------------------------
    def resolve_layers(self, model: torch.nn.Module) -> list[str]:
        """The layer names for this model, checked to exist (the error lists the valid ones)."""
        layers = self.layers if self.layers is not None else default_layers(model)
        modules = dict(model.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing:
            valid = [n for n in modules if n]
            more = f", … ({len(valid)} in all)" if len(valid) > 40 else ""
            shown = ", ".join(valid[:40]) + more
            raise ProbeError(f"no layer named {', '.join(map(repr, missing))} in this model. "
                             f"Valid names: {shown}.")
        return layers

    def _check_context(self, model: torch.nn.Module) -> None:
        if self.mask is None:
            return
        context, length = _context_length(model), self.inputs["input_ids"].shape[1]
        if context is not None and length > context:
            raise ProbeError(f"the probe sequences have {length} tokens but the model's context "
                             f"is {context}: shorten the probe (max_length).")

    def batches(self, device: torch.device) -> Any:
        """The probe inputs in batches on ``device``: ``(call_args, mask_or_None)``."""
        for start in range(0, self.n_samples, self.batch_size):
            part = {k: v[start:start + self.batch_size].to(device) for k, v in self.inputs.items()}
            mask = part.get("attention_mask")
            yield (part[""] if "" in part else part), mask

    def _reduce(self, out: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None or out.ndim != 3 or out.shape[1] != mask.shape[1]:
            return out.reshape(out.shape[0], -1)
        mask = mask.to(out.device).bool()
        if self.representation == "last_token":
            positions = torch.arange(mask.shape[1], device=out.device)
            last = torch.where(mask, positions, -1).amax(dim=1).clamp_min(0)
            return out[torch.arange(out.shape[0], device=out.device), last]
        if self.representation == "mean":
            weights = mask.to(out.dtype).unsqueeze(-1)
            return (out * weights).sum(1) / weights.sum(1).clamp_min(1)
        return out[mask]

    def capture(self, model: torch.nn.Module, *, check_finite: bool = True
                ) -> dict[str, torch.Tensor]:
        """Run the model on the probe; return ``{layer: activations (n_rows, n_features)}``.

        With ``check_finite=False`` NaN/Inf activations are returned as they are (a scan then
        fails that layer alone).

        Raises
        ------
        ProbeError
            A layer does not exist (the message lists valid names), the probe is longer than the
            model's context, or a layer's activations are not finite (a diverged checkpoint).
        """
        layers = self.resolve_layers(model)
        self._check_context(model)
        modules = dict(model.named_modules())
        device = next(model.parameters()).device
        captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
        current: dict[str, Any] = {}

        def hook(name: str) -> Callable:
            def save(_module, _inputs, output):
                captured[name].append(self._reduce(_first_tensor(output), current["mask"]))
            return save

        handles = [modules[name].register_forward_hook(hook(name)) for name in layers]
        try:
            with torch.inference_mode():
                for args, mask in self.batches(device):
                    current["mask"] = mask
                    model(**args) if isinstance(args, dict) else model(args)
        finally:
            for handle in handles:
                handle.remove()
        result = {name: torch.cat(parts).float() for name, parts in captured.items()}
        for name, acts in result.items() if check_finite else ():
            if not bool(torch.isfinite(acts).all()):
                raise ProbeError(f"layer {name!r} produced NaN/Inf activations (a diverged "
                                 "checkpoint?).")
        return result
