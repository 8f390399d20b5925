import * as z from 'zod/mini';

/**
 * `z.coerce.number(params)` (Number(input), then the number checks), built the way zod's own
 * `_coercedNumber` builds it. Reaching it through the `z.coerce` namespace puts every coercing schema
 * (boolean, bigint, date) into the bundle: esbuild keeps a namespace object that is read whole.
 */
export function coercedNumber(params: z.core.$ZodNumberParams) {
  return z.number({ ...params, coerce: true } as z.core.$ZodNumberParams);
}

/** zod/mini ships no messages: every issue without a schema-given one says only this. */
const ZOD_DEFAULT_MESSAGE = 'Invalid input';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const quoted = (names: readonly PropertyKey[]) =>
  names
    .slice(0, 5)
    .map((name) => JSON.stringify(String(name).slice(0, 40)))
    .join(', ') + (names.length > 5 ? ', …' : '');

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  null: 'null',
};

/** The value at `path` inside `root`, or undefined when the path does not exist. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * What is wrong, in words, for one zod issue (without the field's name): the schema's own message when
 * it gives one, else one built from the issue ("must be at least 60", "unknown field \"foo\"",
 * "is required"). `input` is what was parsed, to tell a missing value from a wrong one.
 */
export function describeIssue(issue: z.core.$ZodIssue, input?: unknown): string {
  if (issue.message && issue.message !== ZOD_DEFAULT_MESSAGE) return issue.message;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${quoted(issue.keys)}`;
    case 'invalid_type':
      if (valueAt(input, issue.path) === undefined) return 'is required';
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : (issue as z.core.$ZodIssueTooBig).maximum);
      const edge = small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
      if (issue.origin === 'array' || issue.origin === 'set') return `must have ${edge} ${plural(bound, 'item')}`;
      if (issue.origin === 'string') return `must be ${edge} ${plural(bound, 'character')} long`;
      return `must be ${edge} ${bound}`;
    }
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return 'is not valid';
  }
}

/** `field: what is wrong` for each issue (`body` for the whole value), at most `max` of them. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, options: { root?: string; max?: number } = {}): string[] {
  return issues
    .slice(0, options.max ?? 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : (options.root ?? 'body')}: ${describeIssue(issue, input)}`);
}
