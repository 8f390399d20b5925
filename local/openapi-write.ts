import { readFileSync, writeFileSync } from 'node:fs';
import { renderOpenApi } from './openapi.js';

/**
 * `npm run openapi`: writes docs/openapi.json from the zod schemas. `npm run openapi -- --check` writes
 * nothing and exits 1 when the committed file is stale (the unit test checks the same).
 */
const file = new URL('../docs/openapi.json', import.meta.url);
const next = renderOpenApi();
let current: string | null = null;
try {
  current = readFileSync(file, 'utf8');
} catch {
  current = null;
}
if (process.argv.includes('--check')) {
  if (current !== next) {
    process.stderr.write('docs/openapi.json is stale: run npm run openapi\n');
    process.exit(1);
  }
  process.stdout.write('docs/openapi.json is up to date\n');
} else if (current === next) {
  process.stdout.write('docs/openapi.json is up to date\n');
} else {
  writeFileSync(file, next);
  process.stdout.write('wrote docs/openapi.json\n');
}
