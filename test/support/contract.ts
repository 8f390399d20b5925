import * as z from 'zod/mini';
import { matchRoute } from '../../local/gateway.js';
import { OPERATIONS, buildOpenApiDocument, errorCodesOf, routeKey } from '../../local/openapi.js';
import { HTTP_STATUS, type ErrorCode } from '../../shared/domain/errors.js';
import { errorBody } from '../../shared/http/contract.js';

/** What a test saw on the wire, however it sent the request. */
export interface SeenAnswer {
  status: number;
  header: (name: string) => string | null | undefined;
  text: string;
}

const document = buildOpenApiDocument() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

/**
 * Where an answer of the local stack departs from the OpenAPI document (empty when it matches): an
 * undocumented status, a body that fails the answer's zod schema (the one the document is generated
 * from), an error code the route does not document, a 429 without Retry-After. Requests that match no
 * route (404 NOT_FOUND, 405) are the gateway's, not an operation's, and are not checked.
 */
export function contractProblems(method: string, pathAndQuery: string, answer: SeenAnswer): string[] {
  const pathname = new URL(pathAndQuery, 'http://local').pathname;
  const route = matchRoute(method.toUpperCase(), pathname);
  if (!route) return [];
  const key = routeKey(route);
  const where = `${key} → ${answer.status}`;
  const operation = OPERATIONS[key];
  if (!operation) return [`${key}: no operation in the document`];
  const problems: string[] = [];
  if (!document.paths[route.path]?.[route.method.toLowerCase()]?.responses[String(answer.status)]) {
    problems.push(`${where}: status not documented`);
  }
  const type = answer.header('content-type') ?? '';
  const json = () => {
    try {
      return JSON.parse(answer.text) as unknown;
    } catch {
      return undefined;
    }
  };
  const check = (schema: z.ZodMiniType, value: unknown) => {
    const result = z.safeParse(schema, value);
    if (!result.success) problems.push(`${where}: ${z.prettifyError(result.error).replace(/\n/g, ' ')} in ${answer.text.slice(0, 300)}`);
  };

  if (answer.status >= 400 && type.startsWith('application/json')) {
    const body = json();
    check(errorBody(errorCodesOf(route)), body);
    const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
    if (code && code in HTTP_STATUS && HTTP_STATUS[code as ErrorCode] !== answer.status) problems.push(`${where}: ${code} is ${HTTP_STATUS[code as ErrorCode]} in the table`);
    if (answer.status === 429 && !/^\d+$/.test(answer.header('retry-after') ?? '')) problems.push(`${where}: no Retry-After`);
  } else if ('browser' in operation) {
    if (answer.status === 302) {
      if (!answer.header('location')) problems.push(`${where}: no Location`);
    } else if (!type.startsWith('text/html') || !(answer.status in operation.pages)) {
      problems.push(`${where}: not a documented page (${type})`);
    }
  } else if (answer.status !== operation.answer.status) {
    problems.push(`${where}: the route answers ${operation.answer.status} on success`);
  } else if (operation.answer.binary) {
    if (!operation.answer.binary.includes(type)) problems.push(`${where}: content-type ${type}, not one of ${operation.answer.binary.join(', ')}`);
  } else if (operation.answer.schema) {
    if (!type.startsWith('application/json')) problems.push(`${where}: content-type ${type}`);
    check(operation.answer.schema, json());
  } else if (answer.text !== '') {
    problems.push(`${where}: a body on a ${answer.status}`);
  }
  return problems;
}
