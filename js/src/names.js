// Layer names as a person reads them: the common prefix and suffix of the run's layer names dropped
// (the full name stays on hover). Pure; unit-tested in js/test/names.test.js.

const SEPARATORS = /([./:])/;

function tokens(name) {
  return name.split(SEPARATORS).filter((t) => t !== "");
}

function commonPrefix(lists) {
  let n = 0;
  for (;;) {
    const t = lists[0][n];
    if (t === undefined || !lists.every((l) => l[n] === t)) return n;
    n += 1;
  }
}

/**
 * Short names for `names`: whole tokens (split at ".", "/", ":") shared by every name at the start
 * or the end are dropped, a leading or trailing separator too. A name never becomes empty, and
 * one name alone is kept whole.
 */
export function shortNames(names) {
  if (names.length < 2) return names.slice();
  const split = names.map(tokens);
  let start = commonPrefix(split);
  const reversed = split.map((l) => l.slice().reverse());
  let end = commonPrefix(reversed);
  const shortest = Math.min(...split.map((l) => l.length));
  // keep at least one token of every name
  if (start + end >= shortest) {
    end = Math.max(0, shortest - start - 1);
    if (start >= shortest) start = shortest - 1;
  }
  // a bare number says little ("0" for "encoder.layer.0"): keep the word before it
  const bare = (l) => /^[0-9]+$/.test(l[start] ?? "");
  while (start > 0 && split.some(bare)) {
    start -= 1;
    while (start > 0 && SEPARATORS.test(split[0][start])) start -= 1;
    if (!split.some(bare)) break;
  }
  const out = split.map((l) => {
    const kept = l.slice(start, l.length - end);
    while (kept.length > 1 && SEPARATORS.test(kept[0])) kept.shift();
    while (kept.length > 1 && SEPARATORS.test(kept[kept.length - 1])) kept.pop();
    return kept.join("");
  });
  // shortening must not make two names equal
  return new Set(out).size === new Set(names).size ? out : names.slice();
}
