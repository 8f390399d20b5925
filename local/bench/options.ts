/** The bench's sections, in the order they run. */
export const SECTIONS = ['cold-start', 'overhead', 'sweep', 'load'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  only: Section[];
  quick: boolean;
  /** Cold-start and overhead repeats. */
  repeats: number;
  sweepSizes: number[];
  sweepRepeats: number;
  loadClients: number;
  loadSeconds: number;
  loadRepeats: number;
  /** Where the table is written; null: printed only. */
  out: string | null;
  note?: string;
}

const positive = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
};

/** Every option parseBenchOptions takes, with what it sets (the usage `--help` prints). */
export const BENCH_OPTIONS: ReadonlyArray<readonly [name: string, what: string]> = [
  ['only=SECTIONS', `comma-separated sections to run, in their order: ${SECTIONS.join(', ')} (default: all)`],
  ['quick', 'smoke test: 1 repeat, 10 tokens, 1 s of load; writes nothing unless --out says so'],
  ['repeats=N', 'cold-start and overhead repeats (default 15)'],
  ['sweep-sizes=N,N', 'tokens per sweep table, a fifth of them due (default 500,5000)'],
  ['sweep-repeats=N', 'repeats per sweep size (default 3)'],
  ['load-clients=N', 'concurrent clients on the access-token route (default 200)'],
  ['load-seconds=N', 'how long the load runs (default 20)'],
  ['load-repeats=N', 'load runs, each on 20 fresh tokens (default 3)'],
  ['out=FILE', 'where the table is written (default bench/results.md)'],
  ['no-out', 'print the table only'],
  ['note=TEXT', 'a note for the results page'],
  ['help', 'print this and exit'],
];

/** What `npm run bench -- --help` prints. */
export const BENCH_USAGE = [
  'usage: npm run bench -- [option…]',
  '',
  'Cold start and size of every bundle, request overhead, sweep throughput and load, against the local',
  "stack's moto and ANAF emulator; one table, printed and written to bench/results.md (README \"Performance\").",
  '',
  ...BENCH_OPTIONS.map(([name, what]) => `  --${name.padEnd(18)}${what}`),
  '',
].join('\n');

/** True when the arguments ask for the usage (`--help` or `-h`, anywhere): nothing runs then. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === '--help' || arg === '-h');
}

/**
 * `npm run bench -- [--only=cold-start,sweep] [--quick] [--repeats=15] [--sweep-sizes=500,5000,50000]
 * [--sweep-repeats=3] [--load-clients=200] [--load-seconds=20] [--load-repeats=3] [--out=bench/results.md | --no-out] [--note=…]`.
 * `--quick` is a smoke test: one repeat, tiny sizes, a short load, nothing written unless --out says so.
 * `--help` is answered by the caller (wantsHelp, BENCH_USAGE) before this runs.
 */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const given = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new Error(`unknown argument ${JSON.stringify(arg)} (npm run bench -- --help lists the options)`);
    given.set(match[1]!, match[2] ?? 'true');
  }
  const known = BENCH_OPTIONS.map(([name]) => name.split('=')[0]!).filter((name) => name !== 'help');
  for (const name of given.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name} (known: ${known.map((k) => `--${k}`).join(' ')}; --help explains them)`);
  const quick = given.has('quick');
  const only = given.has('only')
    ? given
        .get('only')!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [...SECTIONS];
  for (const section of only) if (!SECTIONS.includes(section as Section)) throw new Error(`--only: unknown section ${section} (sections: ${SECTIONS.join(', ')})`);
  const number = (name: string, normal: number, smoke: number) => (given.has(name) ? positive(name, given.get(name)!) : quick ? smoke : normal);
  const sizes = given.has('sweep-sizes') ? given.get('sweep-sizes')!.split(',').map((s) => positive('sweep-sizes', s.trim())) : quick ? [10] : [500, 5000];
  return {
    only: SECTIONS.filter((s) => only.includes(s)),
    quick,
    repeats: number('repeats', 15, 1),
    sweepSizes: sizes,
    sweepRepeats: number('sweep-repeats', 3, 1),
    loadClients: number('load-clients', 200, 5),
    loadSeconds: number('load-seconds', 20, 1),
    loadRepeats: number('load-repeats', 3, 1),
    out: given.has('no-out') ? null : (given.get('out') ?? (quick ? null : 'bench/results.md')),
    ...(given.has('note') ? { note: given.get('note')! } : {}),
  };
}

/** The options as one line for the results page. */
export function describeOptions(o: BenchOptions): string {
  return [
    `sections ${o.only.join(', ')}`,
    o.quick ? 'quick' : null,
    `repeats ${o.repeats}`,
    o.only.includes('sweep') ? `sweep sizes ${o.sweepSizes.join(', ')} (×${o.sweepRepeats})` : null,
    o.only.includes('load') ? `load ${o.loadClients} clients for ${o.loadSeconds} s (×${o.loadRepeats})` : null,
  ]
    .filter(Boolean)
    .join('; ');
}
