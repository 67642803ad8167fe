/**
 * Bitsets of rule numbers and a per-field index of patterns, so one policy decision costs a
 * few map lookups and word-wise ANDs instead of a scan of every rule.
 *
 * Contract: `PatternIndex.collect(value, out)` ORs into `out` exactly the rules whose patterns
 * for that field match `value` (patterns: exact, `*`, or a prefix ending in `*`; a rule that
 * lists no pattern for the field matches everything). Bit i is rule i, in file order.
 */

export type Bitset = Uint32Array;

export function newBitset(size: number): Bitset {
  return new Uint32Array(Math.max(1, Math.ceil(size / 32)));
}

export function setBit(bits: Bitset, index: number): void {
  bits[index >>> 5]! |= 1 << (index & 31);
}

export function orInto(target: Bitset, source: Bitset): void {
  for (let i = 0; i < target.length; i++) target[i]! |= source[i]!;
}

export function andInto(target: Bitset, source: Bitset): void {
  for (let i = 0; i < target.length; i++) target[i]! &= source[i]!;
}

/** Calls `visit` for each set bit of `a AND b`, lowest first, until it returns true; returns that index or -1. */
export function firstCommon(a: Bitset, b: Bitset, visit: (index: number) => boolean): number {
  for (let word = 0; word < a.length; word++) {
    let bits = a[word]! & b[word]!;
    while (bits !== 0) {
      const lowest = bits & -bits;
      const index = word * 32 + (31 - Math.clz32(lowest));
      if (visit(index)) return index;
      bits ^= lowest;
    }
  }
  return -1;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Rules with a prefix pattern ending at this node. */
  rules: Bitset | null;
}

export class PatternIndex {
  private readonly size: number;
  /** Rules that do not constrain this field. */
  readonly unconstrained: Bitset;
  /** Rules that do constrain it (complement of `unconstrained` among the rules added). */
  readonly constrained: Bitset;
  private readonly exact = new Map<string, Bitset>();
  private readonly prefixes: TrieNode = { children: new Map(), rules: null };

  constructor(size: number) {
    this.size = size;
    this.unconstrained = newBitset(size);
    this.constrained = newBitset(size);
  }

  add(rule: number, patterns: readonly string[] | undefined): void {
    if (patterns === undefined || patterns.includes('*')) {
      setBit(this.unconstrained, rule);
      return;
    }
    setBit(this.constrained, rule);
    for (const pattern of patterns) {
      if (pattern.endsWith('*')) {
        let node = this.prefixes;
        for (let i = 0; i < pattern.length - 1; i++) {
          const code = pattern.charCodeAt(i);
          let child = node.children.get(code);
          if (child === undefined) node.children.set(code, (child = { children: new Map(), rules: null }));
          node = child;
        }
        setBit((node.rules ??= newBitset(this.size)), rule);
      } else {
        let bits = this.exact.get(pattern);
        if (bits === undefined) this.exact.set(pattern, (bits = newBitset(this.size)));
        setBit(bits, rule);
      }
    }
  }

  /** ORs into `out` the constrained rules with a pattern matching `value` (not the unconstrained ones). */
  collectConstrained(value: string, out: Bitset): void {
    const exact = this.exact.get(value);
    if (exact !== undefined) orInto(out, exact);
    let node: TrieNode | undefined = this.prefixes;
    for (let i = 0; i < value.length && node !== undefined; i++) {
      node = node.children.get(value.charCodeAt(i));
      if (node?.rules) orInto(out, node.rules);
    }
  }

  /** ORs into `out` every rule this field lets `value` through. */
  collect(value: string, out: Bitset): void {
    orInto(out, this.unconstrained);
    this.collectConstrained(value, out);
  }
}
