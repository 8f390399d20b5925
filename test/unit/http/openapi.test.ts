import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, buildOpenApiDocument, renderOpenApi, routeKey } from '../../../local/openapi.js';
import { HTTP_STATUS } from '../../../shared/domain/errors.js';
import { FUNCTION_NAMES, ROUTES } from '../../../shared/http/routes.js';

/*
 * The OpenAPI document against the route table and the code → status table. Routes added later
 * (e-Factura) are covered without touching this file: it walks ROUTES.
 */

type Json = Record<string, any>;
const doc = buildOpenApiDocument() as Json;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op: op as Json })),
  );
const responses = () =>
  operations().flatMap(({ key, op }) => Object.entries(op.responses as Json).map(([status, res]) => ({ key, status, res: res as Json })));

describe('the OpenAPI document', () => {
  it('describes every route of the route table, and nothing else', () => {
    const documented = operations().map((o) => o.key).sort();
    expect(documented).toEqual(ROUTES.map(routeKey).sort());
    expect(Object.keys(OPERATIONS).sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents only error codes of the code → status table, each under its own status', () => {
    const documented = responses().filter(({ res }) => res['x-error-codes']);
    expect(documented.length).toBeGreaterThan(ROUTES.length);
    for (const { key, status, res } of documented) {
      for (const code of res['x-error-codes'] as string[]) {
        expect(Object.keys(HTTP_STATUS), `${key} ${status}`).toContain(code);
        expect(String(HTTP_STATUS[code as keyof typeof HTTP_STATUS]), `${key} ${status} ${code}`).toBe(status);
        expect(res.description, `${key} ${status}`).toContain(`\`${code}\``);
      }
      expect(res.content['application/json'].schema, `${key} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
    }
    const errorCodes = doc.components.schemas.Error.properties.error.properties.code.enum;
    expect([...errorCodes].sort()).toEqual(Object.keys(HTTP_STATUS).sort());
  });

  it('every error response names its codes; a 429 carries Retry-After', () => {
    for (const { key, status, res } of responses()) {
      const isOurError = res.content?.['application/json']?.schema?.$ref === '#/components/schemas/Error';
      if (isOurError) expect(res['x-error-codes'], `${key} ${status}`).toEqual(expect.arrayContaining([expect.any(String)]));
      if (status === '429') expect(res.headers?.['Retry-After']?.required, key).toBe(true);
    }
    expect(responses().some(({ status }) => status === '429')).toBe(true);
  });

  it('service routes: SigV4 or the local bearer key, 401 UNAUTHORIZED, JSON; browser routes: public, 302 and HTML', () => {
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['localBearer', 'sigv4']);
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(op, `${routeKey(route)} is not in the document`).toBeDefined();
      if (route.auth === 'service') {
        expect(op.security, routeKey(route)).toEqual([{ sigv4: [] }, { localBearer: [] }]);
        expect(op.responses['401']['x-error-codes'], routeKey(route)).toEqual(['UNAUTHORIZED']);
      } else {
        expect(op.security, routeKey(route)).toEqual([]);
        expect(op.responses['302'].headers.Location.required, routeKey(route)).toBe(true);
        expect(op.responses['400'].content['text/html'], routeKey(route)).toBeDefined();
      }
      expect(op.operationId, routeKey(route)).toMatch(/^[a-z][A-Za-z]+$/);
    }
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the committed docs/openapi.json is the generated one (run npm run openapi after a change)', () => {
    const committed = readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8');
    expect(committed === renderOpenApi(), 'docs/openapi.json is stale: run npm run openapi').toBe(true);
  });

  it('no Lambda bundle contains the generator or zod-openapi', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const result = await build({
      entryPoints: FUNCTION_NAMES.map((fn) => `${root}functions/${fn}/handler.ts`),
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outdir: '/tmp/openapi-bundle-check',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = Object.values(result.metafile.outputs).flatMap((out) => out.imports.filter((i) => i.external).map((i) => i.path));
    expect(inputs.some((file) => file.startsWith('functions/'))).toBe(true);
    expect(packages).toContain('zod/mini');
    expect(inputs.filter((file) => file.startsWith('local/'))).toEqual([]);
    expect(packages.filter((name) => name.startsWith('zod-openapi'))).toEqual([]);
  });
});
