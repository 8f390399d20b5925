/**
 * Stands in for `mnemonist/lru-cache` in the deployed bundles (esbuild alias, BUNDLE_ALIASES in
 * infra/constructs/broker-function.ts). Its one user is the DynamoDB client's endpoint-discovery cache
 * (@aws-sdk/endpoint-cache), which the client builds but never fills while endpoint discovery is off (it
 * is, for every operation the broker calls); mnemonist brings 7 KB of typed-array structures for it. A
 * Map keeps insertion order, which is all a least-recently-used cache needs.
 */
export default class LRUCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** The value without marking it used. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key)!;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return this;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
