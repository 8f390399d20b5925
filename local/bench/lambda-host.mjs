// Plain node, no tsx: what Lambda does with a bundle. Imports the module named by argv[2], then answers one
// invocation per line of stdin ({event, budgetMs?}) with one line on fd 3 (the handler's own logs keep
// stdout and stderr): its answer, how long the handler took, and the process's memory after it.
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const { handler } = await import(pathToFileURL(process.argv[2]).href);
const fn = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench';
for await (const line of createInterface({ input: process.stdin })) {
  if (!line) continue;
  const { event, budgetMs = 900_000 } = JSON.parse(line);
  const deadline = Date.now() + budgetMs;
  const context = {
    callbackWaitsForEmptyEventLoop: false, functionName: fn, functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${fn}`, memoryLimitInMB: '256',
    awsRequestId: randomUUID(), logGroupName: `/aws/lambda/${fn}`, logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  const startedAt = Date.now();
  const started = process.hrtime.bigint();
  let reply;
  try {
    reply = { ok: await handler(event, context) };
  } catch (error) {
    reply = { thrown: String((error && error.stack) || error) };
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const memory = process.memoryUsage();
  const line2 = JSON.stringify({ ...reply, ms, startedAt, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, maxRssKb: process.resourceUsage().maxRSS });
  writeSync(3, `${line2}\n`);
}
