/**
 * A container's short memory of values read from Secrets Manager, each bound to the DynamoDB record it
 * was read with (the record is read on every call; a value is used only while the record still names
 * what it was read for). One memory per secret store, so each container (and each test world) has its
 * own. A value lives `ttlMs` from its first read under one binding; keeping it again under the same
 * binding does not extend that.
 */
export interface BoundMemory<V> {
  /** The live value kept under `key`, with the binding it was read for. */
  peek(key: string, nowMs: number): { value: V; boundTo: string } | undefined;
  keep(key: string, boundTo: string, value: V, nowMs: number): void;
  forget(key: string): void;
}

interface Entry<V> {
  value: V;
  boundTo: string;
  until: number;
}

/** A memory per owner (the secret store), of at most `maxEntries` values (all dropped when full). */
export function boundMemory<V>(ttlMs: number, maxEntries = 1_000): (owner: object) => BoundMemory<V> {
  const byOwner = new WeakMap<object, Map<string, Entry<V>>>();
  return (owner) => {
    let entries = byOwner.get(owner);
    if (!entries) byOwner.set(owner, (entries = new Map()));
    const map = entries;
    const live = (key: string, nowMs: number) => {
      const entry = map.get(key);
      return entry && entry.until > nowMs ? entry : undefined;
    };
    return {
      peek: (key, nowMs) => live(key, nowMs),
      keep(key, boundTo, value, nowMs) {
        const current = live(key, nowMs);
        if (map.size >= maxEntries && !map.has(key)) map.clear();
        map.set(key, { value, boundTo, until: current && current.boundTo === boundTo ? current.until : nowMs + ttlMs });
      },
      forget: (key) => void map.delete(key),
    };
  };
}
