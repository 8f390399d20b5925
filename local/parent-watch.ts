import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** One process as the watch sees it: its parent and its command name. */
export interface ProcessInfo {
  ppid: number;
  comm: string;
}

/** A parent link that must hold while our caller lives: `pid`'s parent is `parent`. */
export interface ParentLink {
  pid: number;
  parent: number;
}

/** The shells npm runs a script through (`sh -c "node …"`): they outlive npm when npm is SIGKILLed. */
const SCRIPT_SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']);

/**
 * The links to watch from `pid` up: our own parent, and when that is the shell npm ran the script
 * through, up to npm itself (the first ancestor that is not a shell). Killing npm with SIGKILL (an
 * IDE's stop button) leaves the shell running, so our own parent never changes; npm's going away is
 * seen as the shell's parent changing. Outside npm (`underNpm` false) only our own parent is watched,
 * so that a `nohup` start survives its terminal.
 */
export function linksToWatch(pid: number, underNpm: boolean, read: (pid: number) => ProcessInfo | null): ParentLink[] {
  const self = read(pid);
  if (!self) return [];
  const links: ParentLink[] = [{ pid, parent: self.ppid }];
  if (!underNpm) return links;
  let current = self.ppid;
  for (let depth = 0; depth < 3 && current > 1; depth++) {
    const info = read(current);
    if (!info || !SCRIPT_SHELLS.has(basename(info.comm))) break;
    links.push({ pid: current, parent: info.ppid });
    current = info.ppid;
  }
  return links;
}

/** True while every link holds (a process reparented, or gone, breaks its link). */
export function linksHold(links: readonly ParentLink[], read: (pid: number) => ProcessInfo | null): boolean {
  return links.every((link) => read(link.pid)?.ppid === link.parent);
}

/** Reads a process's parent and name: /proc on Linux, `ps` elsewhere; null when it is gone. */
export function readProcess(pid: number): ProcessInfo | null {
  if (pid === process.pid) return { ppid: process.ppid, comm: 'node' };
  try {
    if (process.platform === 'linux') {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (state === 'Z') return null;
      return { ppid: Number(ppid), comm: stat.slice(stat.indexOf('(') + 1, close) };
    }
    if (process.platform === 'win32') return null;
    const out = execFileSync('ps', ['-o', 'ppid=,comm=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const match = /^(\d+)\s+(.*)$/.exec(out);
    return match ? { ppid: Number(match[1]), comm: match[2]! } : null;
  } catch {
    return null;
  }
}

/**
 * Calls `onGone` once when the process that started us (npm, or our direct parent) goes away, polling
 * every `intervalMs`. The timer does not keep the process alive.
 */
export function watchCaller(onGone: () => void, options: { intervalMs?: number; env?: NodeJS.ProcessEnv } = {}): () => void {
  const underNpm = Boolean((options.env ?? process.env).npm_lifecycle_event);
  const links = linksToWatch(process.pid, underNpm, readProcess);
  const timer = setInterval(() => {
    if (!linksHold(links, readProcess)) {
      clearInterval(timer);
      onGone();
    }
  }, options.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
