import type { Spread } from './stats.js';

export type Unit = '×' | 'ms' | 'KB' | 'MB' | '/s' | 'items' | 'count';

export interface Goal {
  op: '<=' | '>=' | '==';
  value: number;
  /** Every repeat must meet it (its min and max), not only the median: a count of errors that must stay 0. */
  every?: true;
}

/** One line of the results table. */
export interface Row {
  section: 'cold start' | 'bundle size' | 'overhead' | 'sweep' | 'load';
  /** What is measured, e.g. `access-token-get ÷ bare node`. */
  measure: string;
  figure: Spread;
  unit: Unit;
  goal?: Goal;
  /** Short context: the two sides of a ratio, what a count is made of. */
  note?: string;
}

export interface Meta {
  commit: string;
  date: string;
  cores: number;
  cpu: string;
  node: string;
  loadAverage: [number, number];
  options: string;
  note?: string;
}

/** The column header of the table; the bench test checks the table by it. */
export const COLUMNS = ['section', 'measure', 'median', 'min – max', 'n', 'goal', 'met', 'note'] as const;

const DECIMALS: Record<Unit, number> = { '×': 2, ms: 1, KB: 1, MB: 1, '/s': 1, items: 0, count: 0 };

export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '–';
  const digits = unit === 'ms' && Math.abs(value) >= 100 ? 0 : DECIMALS[unit];
  const text = value.toFixed(digits);
  return unit === '×' ? `${text}×` : `${text} ${unit}`;
}

/** Whether the median (with `every`, each of min and max) meets the goal; null without a goal. */
export function meets(row: Row): boolean | null {
  const { goal } = row;
  if (!goal) return null;
  const one = (v: number) => (goal.op === '<=' ? v <= goal.value : goal.op === '>=' ? v >= goal.value : Math.abs(v - goal.value) < 1e-9);
  return goal.every ? one(row.figure.min) && one(row.figure.max) : one(row.figure.median);
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The whole results page: the machine, the commit, then one table (markdown, also fine in a terminal). */
export function renderResults(meta: Meta, rows: readonly Row[]): string {
  const lines = [
    '# `npm run bench` results',
    '',
    `- commit: ${meta.commit}`,
    `- measured: ${meta.date}`,
    `- machine: ${meta.cores} cores (${meta.cpu}), Node ${meta.node}, load average ${meta.loadAverage[0].toFixed(2)} at the start, ${meta.loadAverage[1].toFixed(2)} at the end`,
    `- options: ${meta.options}`,
    ...(meta.note ? [`- note: ${meta.note}`] : []),
    '- each figure: median over the repeats (n), with min and max; each ratio from pairs measured one right after the other in this run',
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
  ];
  for (const row of rows) {
    const met = meets(row);
    const range = row.figure.n > 1 ? `${formatValue(row.figure.min, row.unit)} – ${formatValue(row.figure.max, row.unit)}` : '';
    const goal = row.goal ? `${row.goal.op === '==' ? '=' : row.goal.op === '<=' ? '≤' : '≥'} ${formatValue(row.goal.value, row.unit)}${row.goal.every ? ' (every repeat)' : ''}` : '';
    lines.push(
      `| ${[row.section, row.measure, formatValue(row.figure.median, row.unit), range, String(row.figure.n), goal, met === null ? '' : met ? 'yes' : '**no**', row.note ?? '']
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
