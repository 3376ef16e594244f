"""A tour of the measures: each on constructed data whose answer is known, computed beside expected.

Run it with ``python -m repscope tour`` (or ``make demo``). Every row builds data with a property
that fixes the answer analytically — isotropic noise, an exact rank-k subspace, an exact power-law
spectrum, points on a plane, well-separated clusters — and prints what repscope computes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import geometry as g
from .synthetic import exact_spectrum_data, separated_clusters


@dataclass(frozen=True)
class Row:
    data: str
    measure: str
    expected: float
    computed: float
    rtol: float

    @property
    def ok(self) -> bool:
        return math.isclose(self.computed, self.expected, rel_tol=self.rtol, abs_tol=self.rtol)


def _rows() -> list[tuple[str, str, float, Callable[[], float], float]]:
    rng = np.random.default_rng(0)
    iso = rng.normal(size=(20000, 32))
    rank5 = exact_spectrum_data(np.r_[np.ones(5), np.zeros(59)])
    power = exact_spectrum_data(np.arange(1, 201, dtype=float) ** -1.5)
    plane = rng.uniform(-1, 1, size=(500, 2)) @ rng.normal(size=(2, 64))
    blobs, labels = separated_clusters(4, 50, 16)
    q, _ = np.linalg.qr(rng.normal(size=(32, 32)))
    n = 200
    spread = rng.normal(size=(n, 8))
    return [
        ("isotropic Gaussian, 20000×32", "RankMe (covariance)", 32, lambda: g.effective_rank(iso), 0.01),
        ("isotropic Gaussian, 20000×32", "participation ratio", 32, lambda: g.participation_ratio(iso), 0.01),
        ("exact rank 5 in 64-D", "RankMe (covariance)", 5, lambda: g.effective_rank(rank5), 1e-4),
        ("exact rank 5 in 64-D", "numerical rank", 5, lambda: g.numerical_rank(rank5), 0),
        ("λ_i = i^-1.5 (200 dims)", "α-ReQ, ranks 12–100", 1.5, lambda: g.alpha_req(power).alpha, 1e-6),
        ("λ_i = i^-1.5 (200 dims)", "α-ReQ R²", 1.0, lambda: g.alpha_req(power).r2, 1e-9),
        ("2-plane in 64-D", "numerical rank", 2, lambda: g.numerical_rank(plane), 0),
        ("2-plane in 64-D", "RankMe (uniform square: 2)", 2, lambda: g.effective_rank(plane), 0.01),
        ("200 distinct points, σ → 0", "DSE = log2 N (bits)", math.log2(n), lambda: g.dse(spread, sigma=1e-3), 1e-6),
        ("200 distinct points, σ → ∞", "DSE = 0 (bits)", 0.0, lambda: g.dse(spread, sigma=1e6), 1e-6),
        ("4 separated clusters, t = 50", "DSE = log2 4 (bits)", 2.0, lambda: g.dse(blobs, sigma=1.0, t=50), 1e-3),
        ("4 separated clusters, t = 50", "DSMI with labels = 2 bits", 2.0, lambda: g.dsmi(blobs, labels, sigma=1.0, t=50), 1e-2),
        ("4 separated clusters, t = 50", "DSMI, permuted labels ≈ 0", 0.0, lambda: g.dsmi(blobs, rng.permutation(labels), sigma=1.0, t=50), 0.1),
        ("rotated, scaled copy", "linear CKA", 1.0, lambda: g.linear_cka(iso[:1000], 3 * iso[:1000] @ q), 1e-9),
    ]  # fmt: skip


def run_tour() -> list[Row]:
    """Compute every row of the tour."""
    return [
        Row(data, measure, float(expected), float(compute()), rtol)
        for data, measure, expected, compute, rtol in _rows()
    ]


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    header = ("data", "measure", "expected", "computed", "")
    lines = [
        (r.data, r.measure, f"{r.expected:.4g}", f"{r.computed:.4f}", "ok" if r.ok else "OFF")
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), rule, *(fmt.format(*line) for line in lines)])


def add_tour(commands) -> None:
    """Register ``repscope tour`` on the command line's subcommands."""
    tour = commands.add_parser(
        "tour",
        help="every measure on constructed data with a known answer, computed beside expected",
        description="Compute every measure on data whose answer is known and print a table of "
        "expected against computed values. Exits 1 if any row disagrees.",
    )
    tour.set_defaults(func=run_tour_command)


def run_tour_command(args: argparse.Namespace) -> int:
    return main()


def main() -> int:
    rows = run_tour()
    print("repscope tour: every measure on data whose answer is known\n")
    print(format_table(rows))
    off = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(off)} of {len(rows)} rows agree with the expected value.")
    return 1 if off else 0
