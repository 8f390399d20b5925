import { createServer, request, type Server } from 'node:http';

/** What the proxy saw since the last reset. */
export interface AwsCallCounts {
  /**
   * Calls by shape: the target (`DynamoDB_20120810.GetItem`, `secretsmanager.ListSecrets`, …), for a
   * query on an index also its name and key condition (`… Query dueIndex duePk = :due AND dueAt <= :now`).
   */
  calls: Record<string, number>;
  /** Index items read (ScannedCount) by shape of index query. */
  indexReadsByShape: Record<string, number>;
  /** DynamoDB items read by the due-index lookups: ScannedCount of every Query on an index and of every Scan. */
  indexItemsRead: number;
  /** Every DynamoDB item read: the above plus items of table queries, GetItem, BatchGetItem, TransactGetItems. */
  itemsRead: number;
  scans: number;
  /** Epoch ms of the first call of each shape. */
  firstAt: Record<string, number>;
  /** Summed round-trip time of each shape as the proxy saw it (moto's time plus the hop), ms. */
  msByShape: Record<string, number>;
}

export interface CountingProxy {
  endpoint: string;
  counts(): AwsCallCounts;
  reset(): void;
  close(): Promise<void>;
}

const fresh = (): AwsCallCounts => ({ calls: {}, indexReadsByShape: {}, indexItemsRead: 0, itemsRead: 0, scans: 0, firstAt: {}, msByShape: {} });

/** Items a DynamoDB answer carries (read from its JSON), split into index lookups and the rest. */
function itemsOf(operation: string, requestBody: any, answer: any): { index: number; other: number } {
  switch (operation) {
    case 'Query':
      return requestBody?.IndexName ? { index: answer.ScannedCount ?? 0, other: 0 } : { index: 0, other: answer.ScannedCount ?? 0 };
    case 'Scan':
      return { index: answer.ScannedCount ?? 0, other: 0 };
    case 'GetItem':
      return { index: 0, other: answer.Item ? 1 : 0 };
    case 'BatchGetItem':
      return { index: 0, other: Object.values(answer.Responses ?? {}).reduce((sum: number, items: any) => sum + items.length, 0) };
    case 'TransactGetItems':
      return { index: 0, other: (answer.Responses ?? []).filter((r: any) => r?.Item).length };
    default:
      return { index: 0, other: 0 };
  }
}

/**
 * An HTTP proxy in front of moto that counts the AWS calls passing through and the DynamoDB items they
 * read (from the answers themselves, so the code under test is not touched): point AWS_ENDPOINT_URL at it.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  let counts = fresh();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = String(req.headers['x-amz-target'] ?? '') || `${req.method} ${req.url?.split('?')[0]}`;
      let parsed: any = {};
      if (amzTarget.startsWith('DynamoDB_')) {
        try {
          parsed = JSON.parse(body.toString('utf8') || '{}');
        } catch {
          parsed = {};
        }
      }
      const shape = parsed.IndexName ? `${amzTarget} ${parsed.IndexName} ${parsed.KeyConditionExpression ?? ''}`.trim() : amzTarget;
      counts.calls[shape] = (counts.calls[shape] ?? 0) + 1;
      counts.firstAt[shape] ??= Date.now();
      const sent = performance.now();
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const payload = Buffer.concat(parts);
            counts.msByShape[shape] = (counts.msByShape[shape] ?? 0) + (performance.now() - sent);
            if (amzTarget.startsWith('DynamoDB_') && (answer.statusCode ?? 500) < 300) {
              try {
                const operation = amzTarget.split('.')[1]!;
                const { index, other } = itemsOf(operation, parsed, JSON.parse(payload.toString('utf8')));
                counts.indexItemsRead += index;
                if (index) counts.indexReadsByShape[shape] = (counts.indexReadsByShape[shape] ?? 0) + index;
                counts.itemsRead += index + other;
                if (operation === 'Scan') counts.scans += 1;
              } catch {
                // An answer that is not JSON carries no items to count.
              }
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(payload);
          });
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => structuredClone(counts),
    reset: () => {
      counts = fresh();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
