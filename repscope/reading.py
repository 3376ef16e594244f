"""Reading a run back: its metrics over checkpoints × layers, from a store and nothing else.

A :class:`RunReader` needs a store, a run's name, a measure configuration and a probe's
fingerprint (or a probe, which supplies its fingerprint, its layers' order and what its inputs
are). It never computes: :mod:`repscope.filling` fills the store, and
:class:`~repscope.trajectory.Trajectory` combines the two. ``repscope.open`` and the widgets read
through it.

Examples
--------
>>> import tempfile, pathlib
>>> from repscope.synthetic import synthetic_trajectory
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
>>> written = synthetic_trajectory(n_steps=4, layers=("h.0",), n_points=30, store=path)
>>> key = written.key()                  # {"probe": fingerprint, "params": configuration}
>>> reader = RunReader(path, "synthetic", key["params"], key["probe"])  # opened read-only
>>> reader.steps, reader.layers
([0, 1, 3, 10], ['h.0'])
>>> reader.curve("effective_rank", "h.0").index.tolist()
[0, 1, 3, 10]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._validation import describe, fail
from .config import MeasureConfig, config_summary
from .phases import Phase, detect_phases
from .sources.base import STARTS
from .store import WHOLE_CHECKPOINT, Record, Store

METRIC_COLUMNS = ["step", "layer", "measure", "value", "se", "lower", "upper"]
_ERROR_SUFFIXES = ("_se", "_lo", "_hi")
PHASE_COLUMNS = [
    "rankme_rel_change",
    "rankme_abs_change",
    "alpha_abs_change",
    "alpha_rel_change",
    "rankme_z",
    "alpha_z",
]


class ProbeInfo(Protocol):
    """What reading needs of a probe: a :class:`~repscope.probe.Probe`, or a
    :class:`StoredProbe` read back from a store."""

    @property
    def layers(self) -> list[str] | None: ...
    @property
    def labels(self) -> Any: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def input_kind(self) -> str: ...
    @property
    def representation(self) -> str: ...

    def fingerprint(self) -> str: ...


class StoredProbe:
    """A probe as its store describes it: enough to read results back, not to run a model.

    Attributes
    ----------
    layers : list of str or None
        The layers it captured (``None``: the model's blocks, resolved at scan time).
    representation : str
    n_samples : int or None
        The number of probe inputs (``None`` in a store from before schema 3, until points
        are read).
    labels : ndarray or None
    texts : list of str or None
    tokenizer : str or None
    max_length : int or None
    input_kind : {"tokens", "values", "unknown"}
        Token ids (a language model's probe) or other values; ``"unknown"`` in a store from
        before it was recorded, unless texts or a tokenizer say tokens.

    Examples
    --------
    >>> StoredProbe("sha256:ab", {"layers": ["h.0"], "n_inputs": 3, "texts": ["a", "b", "c"]})
    StoredProbe('sha256:ab', layers=['h.0'], n_samples=3)
    >>> _.input_kind
    'tokens'
    """

    def __init__(self, fingerprint: str, description: dict[str, Any] | None):
        d = description or {}
        self._fingerprint = fingerprint
        self.layers = d.get("layers")
        self.representation = d.get("representation", "last_token")
        self.n_samples: Any = d.get("n_inputs")  # None in a store from before schema 3
        self.labels = None if d.get("labels") is None else np.asarray(d["labels"])
        self.texts = d.get("texts")
        self.tokenizer, self.max_length = d.get("tokenizer"), d.get("max_length")
        texts = self.texts is not None or self.tokenizer is not None
        self.input_kind = d.get("inputs") or ("tokens" if texts else "unknown")
        self.described = description is not None

    def fingerprint(self) -> str:
        return self._fingerprint

    def __repr__(self) -> str:
        return (
            f"StoredProbe({self._fingerprint!r}, layers={self.layers}, n_samples={self.n_samples})"
        )


class RunReader:
    """One run's stored results under one probe and one configuration, read back.

    Reads once, then only what was written since (:meth:`Store.version
    <repscope.store.Store.version>`): a reader follows a store that another thread or process
    is filling. Where one step holds two checkpoints (a store from before rewritten checkpoints
    replaced their rows), the one written last counts.

    Parameters
    ----------
    store : Store, str or Path
        The store (a path is opened read-only).
    run : str
        The run's name in the store.
    config : MeasureConfig or str
        The measure configuration, or its key (as ``repscope.open`` lists it).
    probe : str or probe
        The probe's fingerprint (its description is then read from the store), or an object
        with ``fingerprint()``, ``layers``, ``labels``, ``n_samples`` and ``input_kind`` (a
        :class:`~repscope.probe.Probe`).
    start : {"init", "pretrained", "unknown"}, optional
        Where the run starts, overriding what the store recorded.
    """

    def __init__(
        self,
        store: Store | str | Path,
        run: str,
        config: MeasureConfig | str,
        probe: str | ProbeInfo,
        *,
        start: str | None = None,
    ):
        self.store = store if isinstance(store, Store) else Store(store, read_only=True)
        self.run = run
        self.config = (
            config if isinstance(config, MeasureConfig) else MeasureConfig.from_key(config)
        )
        self.probe: ProbeInfo = (
            StoredProbe(probe, self.store.probe_description(probe))
            if isinstance(probe, str)
            else probe
        )
        self._declared_start = start
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._rows: dict[tuple, Record] = {}
        self._current: list[Record] = []
        self._metrics: pd.DataFrame | None = None
        self._curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] | None = None
        self._phases: dict[tuple, list[Phase]] = {}

    # -- the rows --------------------------------------------------------------------------------
    def key(self) -> dict[str, str]:
        """The store key of these results: the probe's fingerprint and the configuration's key
        (``{"probe": …, "params": …}``)."""
        return {"probe": self.probe.fingerprint(), "params": self.config.key()}

    def version(self) -> tuple:
        """The store's version of these results: it changes whenever a row is written."""
        return self.store.version(run=self.run, **self.key())

    def _refresh(self) -> None:
        key: dict[str, Any] = self.key()
        version = self.store.version(run=self.run, **key)
        if version == self._version:
            return
        last = max((r.created for r in self._rows.values()), default=None)
        fresh = list(self.store.records(run=self.run, points=False, since=last, **key))
        if (
            last is not None
            and len(self._rows) + sum(r.key not in self._rows for r in fresh) != version[0]
        ):
            fresh, self._rows = list(self.store.records(run=self.run, points=False, **key)), {}
        for r in fresh:
            self._rows[r.key] = r
        self._current = _current(self._rows.values())
        self._metrics, self._curves, self._version = None, None, version
        self._phases = {}

    def records(self) -> list[Record]:
        """The current stored records, by step (without 2-D points; :meth:`points` reads those)."""
        with self._lock:
            self._refresh()
            return self._current

    def points(self, layer: str) -> dict[int, np.ndarray]:
        """The probe inputs' principal coordinates of ``layer`` at each step:
        ``{step: (n_samples, 2) float32}``."""
        current = {(r.step, r.checkpoint) for r in self.records() if r.layer == layer}
        stored = self.store.points(run=self.run, layer=layer, **self.key())
        return {step: p for (step, ckpt), p in stored.items() if (step, ckpt) in current}

    # -- tables ----------------------------------------------------------------------------------
    @property
    def metrics(self) -> pd.DataFrame:
        """Tidy table ``(step, layer, measure, value, se, lower, upper)`` of every stored result,
        by step (``se``, ``lower``, ``upper``: the measure's error bar where one is stored)."""
        with self._lock:
            self._refresh()
            if self._metrics is None:
                self._metrics = _metrics_table(self._current)
            return self._metrics.copy()

    @property
    def failures(self) -> pd.DataFrame:
        """Checkpoints (or single layers) that failed: ``(step, layer, error)``. A layer of
        ``"*"`` means the whole checkpoint. A checkpoint that failed and was measured after it
        was repaired is not here."""
        rows = [(r.step, r.layer, r.error) for r in self.records() if r.status == "failed"]
        return pd.DataFrame(rows, columns=["step", "layer", "error"])

    @property
    def notes(self) -> pd.DataFrame:
        """What a reader of the numbers should know: measured layers that miss a measure (too
        few eigenvalues for α-ReQ, say), and steps whose weights are identical to an earlier
        step's (a hub revision that serves another step's weights, say)."""
        rows = [(r.step, r.layer, r.error) for r in self.records() if r.status == "ok" and r.error]
        for step, first in self.duplicates().items():
            rows.append(
                (
                    step,
                    WHOLE_CHECKPOINT,
                    f"step {step} has the same weights as step "
                    f"{first} (identical checkpoint fingerprint)",
                )
            )
        return pd.DataFrame(sorted(rows, key=lambda r: r[0]), columns=["step", "layer", "note"])

    def duplicates(self) -> dict[int, int]:
        """``{step: earlier step}`` for steps whose checkpoint fingerprint equals an earlier
        step's."""
        first: dict[str, int] = {}
        out: dict[int, int] = {}
        for step, fingerprint in sorted({(r.step, r.checkpoint) for r in self.records()}):
            if fingerprint in first and first[fingerprint] != step:
                out[step] = first[fingerprint]
            else:
                first.setdefault(fingerprint, step)
        return out

    @property
    def scalars(self) -> pd.DataFrame:
        """The run's training scalars (loss, learning rate, …): tidy ``(step, name, value)``."""
        return pd.DataFrame(self.store.scalars(self.run), columns=["step", "name", "value"])

    @property
    def steps(self) -> list[int]:
        return sorted({r.step for r in self.records()})

    @property
    def layers(self) -> list[str]:
        """Layer names in the probe's order, else in natural order (``layers.2`` before
        ``layers.10``)."""
        stored = {r.layer for r in self.records() if r.layer != WHOLE_CHECKPOINT}
        return layer_order(stored, self.probe.layers)

    def curve(self, measure: str, layer: str) -> pd.Series:
        """One measure of one layer over steps (failed steps absent)."""
        with self._lock:
            self._refresh()
            if self._curves is None:
                self._curves = _curves(self._current)
            steps, values = self._curves.get(
                (measure, layer), (np.empty(0, dtype=np.int64), np.empty(0))
            )
        return pd.Series(values, index=steps, name=measure)

    def spectrum(self, step: int, layer: str) -> np.ndarray:
        """The normalised eigenvalues at one checkpoint and layer, descending."""
        for r in self.records():
            if r.step == step and r.layer == layer and r.status == "ok" and r.spectrum is not None:
                return r.spectrum
        raise KeyError(
            f"no spectrum stored for step {step}, layer {layer!r} "
            f"(steps: {self.steps}; layers: {self.layers})."
        )

    # -- reading the run -------------------------------------------------------------------------
    @property
    def start(self) -> str:
        """Where the run starts: ``"init"``, ``"pretrained"`` or ``"unknown"`` (what the
        reader was told, else what the store recorded)."""
        if self._declared_start is not None:
            return self._declared_start
        recorded = (self.store.run_source(self.run) or {}).get("start")
        return recorded if recorded in STARTS else "unknown"

    def phases(
        self,
        layer: str | None = None,
        *,
        measures: tuple[str, str] = ("effective_rank", "alpha"),
        **options: Any,
    ) -> list[Phase]:
        """Detected phases of one layer (default: the last) from its RankMe and α curves, with
        their stored standard errors. The tracing paper's names (warmup collapse,
        entropy-seeking, compression-seeking) go to a language model's run (a probe of token
        ids) that starts at initialisation (:attr:`start` ``"init"``); any other run's phases
        are named by what they show (``"collapse: RankMe ↓, α ↑"``, ``"RankMe ↑, α flat"`` …).

        ``measures`` picks any two stored measures instead (``("intrinsic_dimension",
        "alpha")``, ``("nc1", "effective_rank")``, ``("llc", "effective_rank")``): the turning
        points of the first make the phases (of its logarithm when it is positive), the second
        is read over each, and the labels name them (``"TwoNN ID ↑, RankMe flat"``). Detected
        once per layer, pair and version of the store (the widgets ask on every draw).
        ``options`` go to :func:`repscope.phases.detect_phases`.
        """
        layers = self.layers
        if not layers:
            return []
        layer = layer or layers[-1]
        first, second = _measure_pair(measures)
        language = getattr(self.probe, "input_kind", None) == "tokens"
        default_pair = (first, second) == ("effective_rank", "alpha")
        options.setdefault("from_init", self.start == "init" and language and default_pair)
        cache_key = (layer, first, second, tuple(sorted((k, repr(v)) for k, v in options.items())))
        self.records()  # a new version of the store empties the cache
        cached = self._phases.get(cache_key)
        if cached is not None:
            return list(cached)
        curves = {name: self.curve(name, layer) for name in (first, second)}
        for name, curve in curves.items():
            if curve.empty and name not in ("effective_rank", "alpha"):
                stored = sorted(set(self.metrics.query("layer == @layer").measure))
                fail(
                    "measures",
                    "RunReader.phases",
                    f"measures stored for layer {layer!r} ({', '.join(stored)})",
                    repr(name),
                )
        common = curves[first].index.intersection(curves[second].index)
        se = {name: self.curve(f"{name}_se", layer).reindex(common).to_numpy() for name in curves}
        values = curves[first][common].to_numpy()
        if not default_pair:
            options.setdefault("names", (_short_name(first), _short_name(second)))
            options.setdefault("log", bool(np.all(values[np.isfinite(values)] > 0)))
        found = detect_phases(
            common.to_numpy(),
            values,
            curves[second][common].to_numpy(),
            rankme_se=se[first],
            alpha_se=se[second],
            **options,
        )
        self._phases[cache_key] = found
        return list(found)

    def phase_table(
        self,
        layer: str | None = None,
        *,
        measures: tuple[str, str] = ("effective_rank", "alpha"),
        **options: Any,
    ) -> pd.DataFrame:
        """:meth:`phases` as a table: the phase's name, what the numbers did (``label``), its
        first and last step, the changes of RankMe (relative and absolute) and of α (absolute
        and relative) from its first to its last checkpoint, and both in noise units (``z``)."""
        rows = [
            (p.name, p.label, p.start_step, p.end_step, *(p.evidence[c] for c in PHASE_COLUMNS))
            for p in self.phases(layer, measures=measures, **options)
        ]
        return pd.DataFrame(
            rows, columns=["phase", "label", "start_step", "end_step", *PHASE_COLUMNS]
        )

    def __repr__(self) -> str:
        steps = self.steps
        span = f"{len(steps)} steps ({steps[0]} … {steps[-1]})" if steps else "no steps yet"
        layers = self.layers
        shown = ", ".join(layers[:4]) + (f" … ({len(layers)} in all)" if len(layers) > 4 else "")
        return (
            f"<{type(self).__name__} {self.run!r}: {span}, layers {shown or 'none yet'}; starts "
            f"{self.start}; {config_summary(self.config.key())}; store {self.store.path}>"
        )


#: Short names of measures in phase labels (others: the stored name).
SHORT_NAMES = {
    "effective_rank": "RankMe",
    "alpha": "α",
    "dse": "DSE",
    "dsmi": "DSMI",
    "intrinsic_dimension": "TwoNN ID",
    "nc1": "NC1",
    "esd_alpha": "ESD α",
    "llc": "LLC",
}


def _short_name(measure: str) -> str:
    """How a phase's label names ``measure``: a short name, else the registry's display name."""
    from .measure_registry import MEASURES

    registered = MEASURES.get(measure)
    return SHORT_NAMES.get(measure) or (registered.display if registered else measure)


def _measure_pair(measures: Any) -> tuple[str, str]:
    """``measures`` checked: two measure names."""
    if (
        not isinstance(measures, (tuple, list))
        or len(measures) != 2
        or not all(isinstance(m, str) for m in measures)
    ):
        fail(
            "measures", "RunReader.phases", "two measure names", describe(measures), error=TypeError
        )
    return measures[0], measures[1]


def natural_key(name: str) -> tuple:
    """Sort key that puts ``layers.2`` before ``layers.10``."""
    return tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name) if p
    )


def layer_order(names: Iterable[str], preferred: Iterable[str] | None = None) -> list[str]:
    """``names`` in the order of ``preferred`` (a probe's layers) where given, the rest in
    natural order: one order for the trajectory, the widgets and the CLI.

    Examples
    --------
    >>> layer_order(["layers.10", "layers.9", "layers.2", "ln_f"])
    ['layers.2', 'layers.9', 'layers.10', 'ln_f']
    """
    names = set(names)
    first = [n for n in (preferred or ()) if n in names]
    return first + sorted(names - set(first), key=natural_key)


def _current(rows: Iterable[Record]) -> list[Record]:
    """Per step, the rows of the checkpoint written last, by step and layer."""
    newest: dict[int, tuple[float, str]] = {}
    for r in rows:
        if r.step not in newest or r.created > newest[r.step][0]:
            newest[r.step] = (r.created, r.checkpoint)
    keep = [r for r in rows if newest[r.step][1] == r.checkpoint]
    return sorted(keep, key=lambda r: (r.step, r.layer))


def _metrics_table(records: list[Record]) -> pd.DataFrame:
    rows = []
    nan = float("nan")
    for r in records:
        if r.status != "ok":
            continue
        m = r.measures
        for name, value in m.items():
            if name.endswith(_ERROR_SUFFIXES) and name.rsplit("_", 1)[0] in m:
                continue  # a part of another measure's error bar: its columns
            se, lo, hi = (m.get(f"{name}{s}", nan) for s in _ERROR_SUFFIXES)
            rows.append((r.step, r.layer, name, value, se, lo, hi))
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return frame.sort_values(["step", "layer", "measure"], kind="stable").reset_index(drop=True)


def _curves(records: list[Record]) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    table: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in records:
        if r.status == "ok":
            for name, value in r.measures.items():
                table.setdefault((name, r.layer), []).append((r.step, value))
    return {
        k: (np.array([s for s, _ in v], dtype=np.int64), np.array([x for _, x in v], dtype=float))
        for k, v in table.items()
    }
