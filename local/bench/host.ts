import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const HOST_SCRIPT = fileURLToPath(new URL('./lambda-host.mjs', import.meta.url));

/** One invocation as the host answers it. */
export interface HostReply {
  ok?: any;
  thrown?: string;
  /** The handler's own time (hrtime around the call), ms. */
  ms: number;
  /** Epoch ms when the handler was called. */
  startedAt: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Peak resident set of the process so far (getrusage), KB. */
  maxRssKb: number;
}

export interface LambdaHost {
  /** Calls the handler once; `budgetMs` is what getRemainingTimeInMillis starts from. */
  invoke(event: unknown, budgetMs?: number): Promise<HostReply>;
  /** Ends the process (stdin closed, then SIGKILL after a grace). */
  close(): Promise<void>;
  /** What the handler logged (last few KB), for error messages. */
  logs(): string;
}

/**
 * Starts a plain `node` (no tsx, no loader) that imports `module` and serves invocations, the way the
 * Lambda runtime does with a bundle. The process starts now; the first invoke waits for the import.
 */
export function startHost(module: string, env: Record<string, string>): LambdaHost {
  const child = spawn(process.execPath, [HOST_SCRIPT, module], { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let logs = '';
  const keep = (chunk: Buffer) => {
    logs = (logs + chunk.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const waiting: Array<{ resolve: (reply: HostReply) => void; reject: (error: Error) => void }> = [];
  let exited: Error | null = null;
  createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => waiting.shift()?.resolve(JSON.parse(line) as HostReply));
  child.once('exit', (code, signal) => {
    exited = new Error(`lambda host for ${module} exited (${code ?? signal}): ${logs.slice(-2000)}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return {
    invoke(event, budgetMs) {
      if (exited) return Promise.reject(exited);
      return new Promise<HostReply>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin!.write(`${JSON.stringify({ event, budgetMs })}\n`);
      });
    },
    close() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.stdin!.end();
      });
    },
    logs: () => logs,
  };
}

/** The answer, or an Error naming the function with its logs when the handler threw. */
export function answerOf(reply: HostReply, host: LambdaHost, label: string): any {
  if (reply.thrown !== undefined) throw new Error(`${label} threw: ${reply.thrown}\n${host.logs().slice(-2000)}`);
  return reply.ok;
}
