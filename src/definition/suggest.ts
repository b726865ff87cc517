/**
 * "Did you mean …?" suggestions for misspelt keys and names.
 *
 * @module
 */

/**
 * Edit distance for typos: the fewest single-character insertions, deletions, substitutions and
 * swaps of two adjacent characters that turn `a` into `b` (optimal string alignment).
 *
 * @example
 * ```ts
 * editDistance("depends-on", "depends_on"); // 1
 * editDistance("tset", "test"); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2][j - 2] + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length][b.length];
}

/**
 * The candidate closest to `word` (ignoring case), if it is close enough to be a likely typo:
 * at most a third of the word's length away, and never more than 3 edits.
 *
 * @example
 * ```ts
 * closest("dependsOn", ["script", "depends_on"]); // "depends_on"
 * closest("colour", ["script", "depends_on"]); // null
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : null;
}
