// Axes: where values sit on the screen, which ticks to draw and how to label them. Pure functions,
// unit-tested with node's runner (js/test/scale.test.js).

const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

/** Where a step sits on the log-step axis: log10(step + 1), so that step 0 has a place. */
export function stepPosition(step) {
  return Math.log10(Math.max(step, 0) + 1);
}

/** The step at a log-step position (the inverse of stepPosition). */
export function positionStep(position) {
  return 10 ** position - 1;
}

/** A count written short: 950, 1k, 1.5k, 20k, 1M (no trailing zeros). */
export function compact(value) {
  const abs = Math.abs(value);
  for (const [size, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (abs >= size) return `${trim((value / size).toPrecision(3))}${unit}`;
  }
  return trim(Number.isInteger(value) ? String(value) : value.toPrecision(3));
}

function trim(text) {
  return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
}

/** A value for reading (hover, titles): 4 significant digits, no trailing zeros. */
export function formatValue(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return powerOfTen(value, 3);
  return trim(value.toPrecision(4)).replace("-", "−");
}

/** "10⁻³", or "2.5×10⁻³" (mantissa to `digits` significant digits): one style for every log tick. */
export function powerOfTen(value, digits = 2) {
  if (value === 0) return "0";
  const sign = value < 0 ? "−" : "";
  let exponent = Math.floor(Math.log10(Math.abs(value)));
  let mantissa = Math.abs(value) / 10 ** exponent;
  if (Number(mantissa.toPrecision(digits)) >= 10) {
    exponent += 1;
    mantissa /= 10;
  }
  const power = `10${String(exponent).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c])}`;
  const m = trim(mantissa.toPrecision(digits));
  return m === "1" ? `${sign}${power}` : `${sign}${m}×${power}`;
}

/** Tick steps for a linear axis over [lo, hi]: multiples of 1, 2 or 5 × 10^k, about `count` of them. */
export function linearTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power;
  const step = power * (err >= 7.07 ? 10 : err >= 3.16 ? 5 : err >= 1.41 ? 2 : 1);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/** Labels for linear ticks: as many decimals as the tick spacing needs. */
export function linearLabels(ticks) {
  if (ticks.length === 0) return [];
  const spacing = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]) || 1;
  const big = Math.max(...ticks.map(Math.abs));
  if (big >= 1e5 || (big > 0 && big < 1e-3)) return ticks.map((t) => (t === 0 ? "0" : powerOfTen(t, 3)));
  const decimals = Math.max(0, -Math.floor(Math.log10(spacing) + 1e-9));
  return ticks.map((t) => t.toFixed(decimals).replace("-", "−"));
}

/** Nice multiples m × 10^k (m in `mantissas`) within [lo, hi], for k over the decades it spans. */
function multiples(lo, hi, mantissas) {
  const out = [];
  const first = Math.floor(Math.log10(Math.max(lo, 1e-300)));
  const last = Math.ceil(Math.log10(Math.max(hi, 1e-300)));
  for (let k = first; k <= last; k += 1) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) out.push(v);
    }
  }
  return out;
}

const DENSE = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/**
 * Ticks of a log axis over [lo, hi] (lo > 0): labelled majors that fit in `width` pixels, and
 * unlabelled minors. Decades first (1, 10, 100); 1-2-5 when there is room or fewer than two
 * decades; every integer multiple when the range is narrower still.
 */
export function logTicks(lo, hi, width = 600, format = compact, labelWidth = 34) {
  if (!(lo > 0) || !(hi > 0)) return { major: [], minor: [] };
  if (hi < lo) [lo, hi] = [hi, lo];
  const room = Math.max(1, Math.floor(width / labelWidth));
  let major = multiples(lo, hi, [1]);
  for (const mantissas of [[1, 2, 5], DENSE]) {
    const denser = multiples(lo, hi, mantissas);
    if (major.length < 2 || (denser.length <= room && major.length < 4)) major = denser;
    else break;
  }
  if (major.length < 2) major = linearTicks(lo, hi, Math.min(room, 4)).filter((v) => v > 0);
  if (major.length > room) major = major.filter((_, i) => i % Math.ceil(major.length / room) === 0);
  const majors = new Set(major);
  const minor = multiples(lo, hi, DENSE).filter((v) => !majors.has(v));
  return { major: major.map((value) => ({ value, label: format(value) })), minor };
}

/**
 * Ticks of the log-step axis over steps [first, last]: positioned at stepPosition(step), labelled
 * with the step (0, 10, 100, 1k, …). Step 0 is labelled when it is in range.
 */
export function stepTicks(first, last, width = 600) {
  const lo = Math.max(first, 1);
  const hi = Math.max(last, 1);
  const ticks = logTicks(lo, hi, width, compact, 36);
  const major = ticks.major.map(({ value, label }) => ({ step: value, position: stepPosition(value), label }));
  if (first <= 0) major.unshift({ step: 0, position: 0, label: "0" });
  const minor = ticks.minor.map((step) => ({ step, position: stepPosition(step) }));
  return { major, minor };
}

/** Maps a domain [d0, d1] onto a range [r0, r1] linearly (domain values in the axis's own space). */
export function linearMap(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + ((v - d0) / span) * (r1 - r0);
  f.invert = (p) => d0 + ((p - r0) / (r1 - r0 || 1)) * span;
  return f;
}

/** A padded [lo, hi] holding every finite value (a flat series gets a band around its value). */
export function extent(values, pad = 0.06) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return [0, 1];
  if (hi === lo) {
    const d = Math.abs(lo) * 0.05 || 0.5;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}
