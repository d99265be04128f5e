/**
 * A map that forgets everything once it holds `max` entries: for caches of values recomputed
 * cheaply (parsed JSON, formatted dates, allowlists) that must not grow with what callers send.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): V {
    if (this.entries.size >= this.max && !this.entries.has(key)) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }

  /** The cached value, or `make()`'s, remembered. */
  getOrSet(key: K, make: () => V): V {
    const hit = this.entries.get(key);
    return hit !== undefined ? hit : this.set(key, make());
  }
}
