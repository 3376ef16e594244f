"""Run one model on fixed probe inputs and capture named layers.

A :class:`Probe` holds the inputs (a tensor, token ids with an attention mask, or tokenised
texts) and the layer names. :meth:`Probe.capture` runs the model in ``torch.inference_mode()``,
batched, on the model's device, and captures each named module's output with a forward hook.
For sequence outputs ``(N, T, D)`` the default representation is the last non-padding token of
each sequence (as in the tracing paper); the first token (an encoder's ``[CLS]``), the mean over
tokens and every token are options. Feature maps ``(N, C, H, W)`` are flattened to ``C·H·W``
features by default (a warning says so) or pooled over space (``spatial="mean"`` or ``"max"``,
the usual embedding of a convolutional network). Each layer's reduction is recorded
(:attr:`Probe.reductions`, and the store's description of the probe).

The forward pass stops once the last captured layer has run (a probe of ``layers.3`` never runs
the language-model head); batches are sized from the memory available and the activation size
of one example (``batch_size="auto"``); ``autocast="bf16"`` runs the forward pass in mixed
precision (the captured activations are upcast to float32, the geometry stays float64).
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ._validation import RepscopeWarning, check_int, check_option, describe, fail, warn
from .geometry._memory import available_bytes
from .sources.base import tensor_bytes

Representation = Literal["last_token", "first", "mean", "all"]
REPRESENTATIONS = ("last_token", "first", "mean", "all")
#: How a feature map (N, C, H, W, …) becomes rows: flattened, or pooled over its spatial axes.
SPATIAL = ("flatten", "mean", "max")


class ProbeWarning(RepscopeWarning):
    """The probe's representation of a layer may not be what was meant (an encoder's separator
    token, a feature map flattened)."""


#: ``autocast=`` spellings and the dtype each runs the forward pass in.
AUTOCAST_DTYPES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}
_AUTOCAST_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16"}
#: The batch size of callers that cannot size batches by memory (the gradient view), and of
#: ``batch_size="auto"`` where the available memory is unknown.
FALLBACK_BATCH_SIZE = 64
#: The share of the available memory ``batch_size="auto"`` plans to use, by device type.
MEMORY_FRACTION = {"cuda": 0.5}
DEFAULT_MEMORY_FRACTION = 0.25  # the CPU and others: RAM is shared with everything else


class ProbeError(RuntimeError):
    """The probe cannot run on this model (unknown layer, too long a context, NaN activations)."""


class _StopForward(BaseException):
    """Raised by a capture hook once every captured layer has run: ends the forward pass early.

    A ``BaseException``, so that a model's own ``except Exception`` cannot swallow it.
    """


#: Probe inputs in the one full forward pass that learns the calls (2: a model in training
#: mode with batch normalisation cannot run on one).
DISCOVERY_INPUTS = 2


@dataclass(frozen=True)
class _Plan:
    """What one full forward pass of the first inputs showed (see :meth:`Probe._discover`).

    ``calls``: how often each captured layer runs per forward pass; ``bytes_per_example``: the
    bytes of every module output up to where the capture stops, for one example (an upper
    bound of the live activations); ``kept_per_example``: the bytes of the captured rows of
    one example (kept until the end of the capture).
    """

    calls: dict[str, int]
    bytes_per_example: int
    kept_per_example: int


def _output_bytes(output: Any, seen: set[int] | None = None) -> int:
    """Bytes of the tensors in a module's output (tensors, tuples, lists, dicts, nested)."""
    seen = set() if seen is None else seen
    if isinstance(output, torch.Tensor):
        if id(output) in seen:
            return 0
        seen.add(id(output))
        return output.numel() * output.element_size()
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return sum(_output_bytes(item, seen) for item in output)
    return 0


def _check_autocast(value: Any, func: str) -> torch.dtype | None:
    if value is None:
        return None
    if isinstance(value, torch.dtype) and value in _AUTOCAST_NAMES:
        return value
    if isinstance(value, str) and value in AUTOCAST_DTYPES:
        return AUTOCAST_DTYPES[value]
    known = isinstance(value, (str, torch.dtype))
    fail(
        "autocast",
        func,
        "None, 'bf16', 'fp16', torch.bfloat16 or torch.float16",
        repr(value) if known else describe(value),
        error=ValueError if known else TypeError,
    )


def _check_batch_size(value: Any, func: str) -> int | Literal["auto"]:
    if isinstance(value, str):
        if value != "auto":
            fail("batch_size", func, "an integer >= 1 or 'auto'", repr(value))
        return "auto"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail("batch_size", func, "an integer >= 1 or 'auto'", describe(value), error=TypeError)
    if value < 1:
        fail("batch_size", func, "an integer >= 1 or 'auto'", repr(value))
    return int(value)


def default_layers(model: torch.nn.Module) -> list[str]:
    """Every block of the model's longest ``ModuleList`` (the transformer layers), in order.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ModuleList(
    ...     [torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)]))
    >>> default_layers(net)
    ['1.0', '1.1']
    """
    lists = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.ModuleList) and len(m)
    ]
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
        fail(
            "labels",
            func,
            "an array of one label per probe input",
            describe(labels),
            error=TypeError,
        )
    return arr


class Probe:
    """Fixed probe inputs and the layers to capture.

    Parameters
    ----------
    inputs : torch.Tensor, numpy array, or mapping of str to tensors
        A tensor ``(n_samples, ...)`` passed as ``model(batch)``; integer token ids
        ``(n_samples, n_tokens)``; or a tokenizer's output ``{"input_ids": …, "attention_mask":
        …}`` passed as ``model(**batch)``. Any dtype (bfloat16 too) on any device.
    layers : sequence of str, optional
        Module names (as in ``model.named_modules()``). Default: the blocks of the model's
        longest ``ModuleList`` (see :func:`default_layers`).
    representation : {"last_token", "first", "mean", "all"}, default "last_token"
        How a sequence output ``(N, T, D)`` becomes rows: the last non-padding token of each
        sequence (a decoder's summary of its context), the first non-padding token (an
        encoder's ``[CLS]``), the mean over its non-padding tokens, or every non-padding token.
    spatial : {"flatten", "mean", "max"}, default "flatten"
        How a feature map ``(N, C, H, W)`` (any number of spatial axes) becomes rows: flattened
        to ``C·H·W`` features, or pooled over its spatial axes to ``C`` features (global
        average or max pooling, the usual embedding of a convolutional network). Part of the
        fingerprint when not the default.
    batch_size : int or "auto", default "auto"
        Probe inputs per forward pass. ``"auto"``: as many as fit in a share of the memory
        available on the model's device (half the free CUDA memory, a quarter of the available
        RAM; see ``memory_budget``), from the activation size of one example (measured in the
        forward pass that learns the calls, see ``stop_early``). The captured rows do not depend
        on it beyond float rounding, and it is not part of the store key.
    labels : array of shape (n_samples,), optional
        Labels of the probe points (for DSMI and for colouring points in the widgets).
    autocast : None, "bf16", "fp16", torch.bfloat16 or torch.float16, default None
        Run the forward pass under ``torch.autocast`` in this dtype (on a GPU: faster, less
        memory; bfloat16 works on the CPU too). The captured activations are upcast to float32
        and the geometry is computed as without it. It changes the values, so it is part of
        :meth:`fingerprint` (the store key).
    stop_early : bool, default True
        End each forward pass as soon as every captured layer has run (a probe of
        ``layers.3`` never runs the blocks after it nor the language-model head). How often
        each layer runs in a forward pass is learned from one full forward pass of the first
        two probe inputs (once per architecture: a scan's checkpoints share it), so a layer
        called more than once, or in another order than ``named_modules()`` lists it, is
        captured exactly as without stopping. Set ``False`` for a model whose module calls
        depend on the data, or whose hooks (device offloading) must see every forward pass end.
    memory_budget : int, optional
        Bytes ``batch_size="auto"`` may plan for (the captured rows and one batch's
        activations). Default: the share of the available memory above.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> probe = Probe(torch.randn(10, 4), layers=["0", "2"])
    >>> {k: tuple(v.shape) for k, v in probe.capture(net).items()}
    {'0': (10, 8), '2': (10, 3)}
    """

    # Set by :meth:`from_texts` only (:meth:`describe` reads them with ``getattr``).
    texts: list[str]
    tokenizer: str
    max_length: int

    def __init__(
        self,
        inputs: Any,
        *,
        layers: Sequence[str] | None = None,
        representation: Representation = "last_token",
        spatial: str = "flatten",
        batch_size: int | Literal["auto"] = "auto",
        labels: Any = None,
        autocast: str | torch.dtype | None = None,
        stop_early: bool = True,
        memory_budget: int | None = None,
    ):
        func = "Probe"
        self.inputs, self.mask = self._normalise_inputs(inputs, func)
        bad = _non_finite_inputs(self.inputs)
        if bad:
            fail(
                "inputs",
                func,
                "finite values (a probe of NaN or Inf inputs makes every layer of every "
                "checkpoint NaN)",
                bad,
            )
        self.n_samples = len(next(iter(self.inputs.values())))
        #: ``"tokens"`` (token ids: a language model's probe) or ``"values"`` (any other tensor).
        self.input_kind = "tokens" if "input_ids" in self.inputs else "values"
        if layers is not None and (
            isinstance(layers, str) or not all(isinstance(n, str) for n in layers)
        ):
            fail("layers", func, "a sequence of module names", describe(layers), error=TypeError)
        self.layers = list(layers) if layers is not None else None
        self.representation = check_option(
            representation, name="representation", func=func, options=REPRESENTATIONS
        )
        self.spatial = check_option(spatial, name="spatial", func=func, options=SPATIAL)
        #: ``{layer: how its output became rows}``, filled by :meth:`capture`.
        self.reductions: dict[str, str] = {}
        self.batch_size = _check_batch_size(batch_size, func)
        self.labels = None if labels is None else _labels(labels, func)
        if self.labels is not None and len(self.labels) != self.n_samples:
            fail(
                "labels",
                func,
                f"one label per probe input ({self.n_samples})",
                f"{len(self.labels)} labels",
            )
        self.autocast = _check_autocast(autocast, func)
        if not isinstance(stop_early, bool):
            fail("stop_early", func, "True or False", describe(stop_early), error=TypeError)
        self.stop_early = stop_early
        self.memory_budget = (
            None
            if memory_budget is None
            else check_int(memory_budget, name="memory_budget", func=func, low=1)
        )
        self._plans: dict[tuple, _Plan] = {}

    @staticmethod
    def _normalise_inputs(inputs: Any, func: str) -> tuple[dict[str, torch.Tensor], Any]:
        if isinstance(inputs, Mapping):
            tensors = {k: torch.as_tensor(v) for k, v in inputs.items()}
            if "input_ids" not in tensors:
                fail(
                    "inputs",
                    func,
                    "a mapping with 'input_ids' (a tokenizer's output)",
                    f"keys {sorted(tensors)}",
                )
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
                return {
                    "input_ids": tensor,
                    "attention_mask": torch.ones_like(tensor),
                }, torch.ones_like(tensor)
            return {"": tensor}, None
        fail(
            "inputs",
            func,
            "a tensor, an array or a tokenizer's output",
            describe(inputs),
            error=TypeError,
        )

    @classmethod
    def from_texts(
        cls, texts: Sequence[str], tokenizer: Any, *, max_length: int = 64, **kwargs: Any
    ) -> Probe:
        """Tokenise ``texts`` (right-padded, truncated to ``max_length``) into a probe."""
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        encoded = tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        probe = cls(
            {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]},
            **kwargs,
        )
        probe.texts = list(texts)
        probe.tokenizer = getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
        probe.max_length = int(max_length)
        probe._warn_separator(getattr(tokenizer, "sep_token_id", None), tokenizer)
        return probe

    def _warn_separator(self, sep: Any, tokenizer: Any) -> None:
        """An encoder's tokenizer ends every text with its separator: ``last_token`` would take
        that ``[SEP]`` for every input, the same token everywhere."""
        if sep is None or self.representation != "last_token" or self.mask is None:
            return
        ids, mask = self.inputs["input_ids"], self.mask.bool()
        positions = torch.arange(mask.shape[1])
        last = torch.where(mask, positions, -1).amax(dim=1).clamp_min(0)
        ends = ids[torch.arange(len(ids)), last]
        share = float((ends == sep).float().mean())
        if share > 0.5:
            name = getattr(tokenizer, "sep_token", None) or f"token {sep}"
            warn(
                f"Probe: {share:.0%} of the probe texts end with the separator {name}: "
                "representation='last_token' takes that token for them. For an encoder (BERT, "
                "MiniLM) use representation='first' (its [CLS]) or 'mean'.",
                category=ProbeWarning,
            )

    def __repr__(self) -> str:
        inputs = self.inputs.get("input_ids", next(iter(self.inputs.values())))
        shape = "×".join(str(n) for n in inputs.shape[1:]) or "scalar"
        what = self.input_kind
        layers = "every block" if self.layers is None else ", ".join(self.layers)
        labels = "" if self.labels is None else f", {len(np.unique(self.labels))} labels"
        return (
            f"<Probe: {self.n_samples} inputs of {shape} {what}; layers {layers}; "
            f"{self.representation}{labels}>"
        )

    def describe(self) -> dict[str, Any]:
        """What the store records of this probe (``repscope.open`` reads it back): layers,
        representation, number of inputs and their kind (``"tokens"`` or ``"values"``), labels,
        texts, tokenizer and ``max_length`` (and ``autocast`` when set). The inputs themselves
        are not recorded."""
        labels = None if self.labels is None else np.asarray(self.labels).tolist()
        described = {
            "layers": self.layers,
            "representation": self.representation,
            "spatial": self.spatial,
            "reductions": dict(self.reductions),
            "n_inputs": self.n_samples,
            "inputs": self.input_kind,
            "labels": labels,
            "texts": getattr(self, "texts", None),
            "tokenizer": getattr(self, "tokenizer", None),
            "max_length": getattr(self, "max_length", None),
        }
        if self.autocast is not None:
            described["autocast"] = _AUTOCAST_NAMES[self.autocast]
        return described

    # -- identity ------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """A hash of the inputs, the layers and the representation (and ``autocast`` when set):
        the probe's store key.

        The inputs are hashed as their raw bytes in C order with their dtype and shape, wherever
        they are (a CUDA probe and its CPU copy have one fingerprint) and whatever their dtype
        (bfloat16 too). Options that do not change the captured values (``batch_size``,
        ``stop_early``, ``memory_budget``) are not part of it.
        """
        digest = hashlib.sha256()
        for key in sorted(self.inputs):
            tensor = self.inputs[key]
            digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor_bytes(tensor))
        digest.update(f"{self.layers}|{self.representation}".encode())
        if self.spatial != "flatten":  # absent by default: older keys stay valid
            digest.update(f"|spatial={self.spatial}".encode())
        if self.autocast is not None:  # absent by default: older keys stay valid
            digest.update(f"|autocast={_AUTOCAST_NAMES[self.autocast]}".encode())
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
            raise ProbeError(
                f"no layer named {', '.join(map(repr, missing))} in this model. "
                f"Valid names: {shown}."
            )
        return layers

    def _check_context(self, model: torch.nn.Module) -> None:
        if self.mask is None:
            return
        context, length = _context_length(model), self.inputs["input_ids"].shape[1]
        if context is not None and length > context:
            raise ProbeError(
                f"the probe sequences have {length} tokens but the model's context "
                f"is {context}: shorten the probe (max_length)."
            )

    def batches(self, device: torch.device, batch_size: int | None = None) -> Any:
        """The probe inputs in batches on ``device``: ``(call_args, mask_or_None)``.

        ``batch_size`` defaults to the probe's own, or :data:`FALLBACK_BATCH_SIZE` (64) for
        ``batch_size="auto"`` (the batch size :meth:`capture` uses is :meth:`batch_size_for`).
        """
        if batch_size is None:
            batch_size = (
                self.batch_size if isinstance(self.batch_size, int) else FALLBACK_BATCH_SIZE
            )
        for start in range(0, self.n_samples, batch_size):
            yield self._slice(start, start + batch_size, device)

    def _slice(self, start: int, stop: int, device: torch.device) -> tuple[Any, Any]:
        part = {k: v[start:stop].to(device) for k, v in self.inputs.items()}
        return (part[""] if "" in part else part), part.get("attention_mask")

    def _reduce(self, out: torch.Tensor, mask: torch.Tensor | None, name: str = "") -> torch.Tensor:
        if out.dtype in (torch.float16, torch.bfloat16):  # autocast: reduce in float32
            out = out.float()
        if mask is None or out.ndim != 3 or out.shape[1] != mask.shape[1]:
            return self._rows(out, name)
        mask = mask.to(out.device).bool()
        self.reductions.setdefault(
            name, f"{self.representation} token of {_shape(out)} (N × T × D)"
        )
        if self.representation in ("last_token", "first"):
            positions = torch.arange(mask.shape[1], device=out.device)
            if self.representation == "last_token":
                pick = torch.where(mask, positions, -1).amax(dim=1).clamp_min(0)
            else:
                pick = torch.where(mask, positions, mask.shape[1]).amin(dim=1)
                pick = pick.clamp_max(mask.shape[1] - 1)
            return out[torch.arange(out.shape[0], device=out.device), pick]
        if self.representation == "mean":
            weights = mask.to(out.dtype).unsqueeze(-1)
            return (out * weights).sum(1) / weights.sum(1).clamp_min(1)
        return out[mask]

    def _rows(self, out: torch.Tensor, name: str) -> torch.Tensor:
        """A non-sequence output as rows: as it is (N, D), or a feature map (N, C, H, W, …)
        flattened or pooled over its spatial axes."""
        if out.ndim <= 2:
            self.reductions.setdefault(name, f"as it is, {_shape(out)}")
            return out.reshape(out.shape[0], -1)
        if self.spatial == "flatten":
            if name not in self.reductions:
                self.reductions[name] = f"flattened from {_shape(out)} to {out[0].numel()} features"
                warn(
                    f"Probe: layer {name!r} outputs a feature map ({_shape(out)}); it is "
                    f"flattened to {out[0].numel()} features. spatial='mean' (or 'max') pools it "
                    f"over space to {out.shape[1]} channels, the usual embedding of a "
                    "convolutional network.",
                    category=ProbeWarning,
                )
            return out.reshape(out.shape[0], -1)
        self.reductions.setdefault(
            name, f"{self.spatial}-pooled over space, {_shape(out)} to {out.shape[1]} channels"
        )
        flat = out.reshape(out.shape[0], out.shape[1], -1)
        return flat.mean(dim=-1) if self.spatial == "mean" else flat.amax(dim=-1)

    def _forward_context(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast)

    @staticmethod
    def _call(model: torch.nn.Module, args: Any) -> None:
        model(**args) if isinstance(args, dict) else model(args)

    def _discover(
        self,
        model: torch.nn.Module,
        layers: list[str],
        modules: dict[str, torch.nn.Module],
        device: torch.device,
    ) -> _Plan:
        """One full forward pass of the first :data:`DISCOVERY_INPUTS` probe inputs, with a hook
        on every module: how often each captured layer runs, and the bytes of the module outputs
        up to the last captured call (or of all of them without ``stop_early``), per input."""
        names = {id(modules[name]): name for name in layers}
        calls = dict.fromkeys(layers, 0)
        used, kept, last_call = [0], dict.fromkeys(layers, 0), dict.fromkeys(layers, 0)
        n = min(DISCOVERY_INPUTS, self.n_samples)
        args, mask = self._slice(0, n, device)

        def count(module: torch.nn.Module, _inputs: Any, output: Any) -> None:
            used[0] += _output_bytes(output)
            name = names.get(id(module))
            if name is not None:
                calls[name] += 1
                last_call[name] = used[0]
                kept[name] += _output_bytes(self._reduce(_first_tensor(output), mask, name))

        handles = [m.register_forward_hook(count) for m in model.modules()]
        try:
            with torch.inference_mode(), self._forward_context(device):
                self._call(model, args)
        finally:
            for handle in handles:
                handle.remove()
        never = [name for name, ran in calls.items() if ran == 0]
        if never:
            raise ProbeError(
                f"layer {', '.join(map(repr, never))} never ran in the model's "
                "forward pass: capture a module the forward pass calls."
            )
        stop = max(last_call.values()) if self.stop_early else used[0]
        return _Plan(
            calls=calls,
            bytes_per_example=-(-stop // n),
            kept_per_example=-(-sum(kept.values()) // n),
        )

    def _plan(
        self,
        model: torch.nn.Module,
        layers: list[str],
        modules: dict[str, torch.nn.Module],
        device: torch.device,
    ) -> _Plan:
        """:meth:`_discover`, once per architecture (a scan's checkpoints share one)."""
        key = (
            f"{type(model).__module__}.{type(model).__qualname__}",
            tuple(layers),
            tuple(modules),
            str(device),
            self.autocast,
            self.stop_early,
            tuple((n, tuple(p.shape), p.dtype) for n, p in model.named_parameters()),
        )
        if key not in self._plans:
            self._plans[key] = self._discover(model, layers, modules, device)
        return self._plans[key]

    def _auto_batch_size(self, plan: _Plan, device: torch.device) -> int:
        budget: float | None = self.memory_budget
        if budget is None:
            free = available_bytes(device)
            if free is None:
                return min(FALLBACK_BATCH_SIZE, self.n_samples)
            budget = free * MEMORY_FRACTION.get(device.type, DEFAULT_MEMORY_FRACTION)
        # the captured rows of every input, twice (the parts and their concatenation)
        budget -= 2 * self.n_samples * plan.kept_per_example
        size = int(budget // max(plan.bytes_per_example, 1))
        return max(1, min(size, self.n_samples))

    def batch_size_for(self, model: torch.nn.Module) -> int:
        """The batch size :meth:`capture` uses for ``model``.

        The probe's ``batch_size`` when it is a number. For ``"auto"``: ``budget //
        bytes_per_example`` within ``[1, n_samples]``, where ``budget`` is ``memory_budget`` (or
        the share of the available memory on the model's device) less twice the captured rows
        of every input, and ``bytes_per_example`` the bytes of every module output of one
        forward pass of one example, up to where the capture stops (an upper bound of the live
        activations, since outputs are freed as the pass goes on).
        """
        if isinstance(self.batch_size, int):
            return self.batch_size
        layers = list(dict.fromkeys(self.resolve_layers(model)))
        modules = dict(model.named_modules())
        device = next(model.parameters()).device
        return self._auto_batch_size(self._plan(model, layers, modules, device), device)

    def capture(
        self, model: torch.nn.Module, *, check_finite: bool = True
    ) -> dict[str, torch.Tensor]:
        """Run the model on the probe; return ``{layer: activations (n_rows, n_features)}``.

        Activations come back in float32, on the model's device. Each forward pass ends once
        every captured layer has run as often as in a full pass (``stop_early``); the rows are
        those of a full forward pass. With
        ``check_finite=False`` NaN/Inf activations are returned as they are (a scan then fails
        that layer alone).

        Raises
        ------
        ProbeError
            A layer does not exist (the message lists valid names) or never runs, the probe is
            longer than the model's context, the probe's own inputs are not finite (changed
            in place after the Probe was made: the Probe refuses them), or a layer's
            activations are not finite (a diverged checkpoint).
        """
        layers = list(dict.fromkeys(self.resolve_layers(model)))
        self._check_context(model)
        bad = _non_finite_inputs(self.inputs)  # changed in place since the Probe was made
        if bad:
            raise ProbeError(
                f"the probe's inputs hold {bad}: the probe is broken, not the checkpoint. "
                "Give the Probe finite inputs."
            )
        modules = dict(model.named_modules())
        device = next(model.parameters()).device
        plan = None
        if self.stop_early or self.batch_size == "auto":
            plan = self._plan(model, layers, modules, device)
        if isinstance(self.batch_size, int):
            batch_size = self.batch_size
        else:
            assert plan is not None  # batch_size == "auto" always plans, above
            batch_size = self._auto_batch_size(plan, device)
        captured: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
        state: dict[str, Any] = {"mask": None, "left": {}, "pending": 0, "stopped": False}
        stop_calls = plan.calls if plan is not None and self.stop_early else None
        stop = stop_calls is not None

        def hook(name: str) -> Callable:
            def save(_module, _inputs, output):
                if state["stopped"]:  # a model that caught _StopForward and went on
                    return
                captured[name].append(self._reduce(_first_tensor(output), state["mask"], name))
                if stop:
                    state["left"][name] -= 1
                    state["pending"] -= state["left"][name] == 0
                    if state["pending"] == 0:
                        state["stopped"] = True
                        raise _StopForward

            return save

        handles = [modules[name].register_forward_hook(hook(name)) for name in layers]
        try:
            with torch.inference_mode(), self._forward_context(device):
                for args, mask in self.batches(device, batch_size):
                    state.update(mask=mask, stopped=False)
                    if stop_calls is not None:
                        state.update(left=dict(stop_calls), pending=len(stop_calls))
                    try:
                        self._call(model, args)
                    except _StopForward:
                        pass
        finally:
            for handle in handles:
                handle.remove()
        result = {name: torch.cat(parts).float() for name, parts in captured.items()}
        for name, acts in result.items() if check_finite else ():
            if not bool(torch.isfinite(acts).all()):
                raise ProbeError(
                    f"layer {name!r} produced NaN/Inf activations (a diverged checkpoint?)."
                )
        return result


def _non_finite_inputs(inputs: Mapping[str, torch.Tensor]) -> str:
    """``"3 NaN/Inf values in 'pixel_values'"`` for the floating-point inputs that are not
    finite, or ``""``: checked once per Probe and once per capture, before any forward pass,
    so that NaN inputs are blamed on the probe, not on every layer of every checkpoint."""
    found = []
    for key, tensor in inputs.items():
        if tensor.is_floating_point() or tensor.is_complex():
            count = int((~torch.isfinite(tensor)).sum())
            if count:
                found.append(f"{count} NaN/Inf value(s)" + (f" in {key!r}" if key else ""))
    return ", ".join(found)


def _shape(out: torch.Tensor) -> str:
    """``N × 8 × 16 × 16``: an output's shape, its batch dimension by name."""
    return " × ".join(["N", *(str(n) for n in out.shape[1:])])
