/**
 * The process table, read once per run. On Linux straight from `/proc` (exact start times in
 * clock ticks, no child process); elsewhere through `ps`, see `ps-fallback.ts`.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import type { ProcessInfo } from '../core/types.js';
import { readProcessWithPs, scanWithPsList } from './ps-fallback.js';

/** The fields of `/proc/<pid>/stat` cronwatch uses: times in clock ticks, memory in pages. */
export interface StatFields {
  readonly pid: number;
  /** The kernel's 15-character process name; may hold spaces and parentheses. */
  readonly comm: string;
  /** One-letter state: R, S, D, Z (zombie), T (stopped), ... */
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  /** Start time, clock ticks since boot. */
  readonly startTicks: number;
  readonly rssPages: number;
}

// Indexes into the fields after the comm's closing parenthesis: proc(5) field number minus 3.
const STATE = 0;
const PPID = 1;
const PGRP = 2;
const SESSION = 3;
const UTIME = 11;
const STIME = 12;
const STARTTIME = 19;
const RSS = 21;

/** Longest excerpt of bad input quoted in an error message. */
const EXCERPT_CHARS = 120;

/**
 * Parses one `/proc/<pid>/stat` line. The comm field is in parentheses and may itself hold
 * spaces and `)`, so the fields are taken after the last `)`.
 * @throws when the text is not a stat line.
 */
export function parseStatLine(text: string): StatFields {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fail = (what: string): never => {
    throw new Error(`Expected a /proc/<pid>/stat line (${what}), got \`${text.slice(0, EXCERPT_CHARS)}\``);
  };
  if (open < 1 || close < open) {
    fail('no "(comm)"');
  }
  const fields = text.slice(close + 2).split(' ');
  const integer = (index: number, name: string): number => {
    const value = Number(fields[index]);
    return Number.isSafeInteger(value) ? value : fail(`bad ${name}`);
  };
  const pid = Number(text.slice(0, open).trim());
  const state = fields[STATE] ?? '';
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    fail('bad pid');
  }
  if (state.length !== 1) {
    fail('bad state');
  }
  return {
    pid,
    comm: text.slice(open + 1, close),
    state,
    ppid: integer(PPID, 'ppid'),
    pgid: integer(PGRP, 'pgrp'),
    sid: integer(SESSION, 'session'),
    utimeTicks: integer(UTIME, 'utime'),
    stimeTicks: integer(STIME, 'stime'),
    startTicks: integer(STARTTIME, 'starttime'),
    rssPages: integer(RSS, 'rss'),
  };
}

/** What turns ticks and pages into milliseconds and bytes; fixed for the life of this process. */
interface Machine {
  readonly ticksPerSecond: number;
  readonly pageBytes: number;
  /** Boot time, epoch ms (whole seconds: `/proc/stat` gives no more). */
  readonly bootTimeMs: number;
}

/**
 * USER_HZ is 100 on every Linux architecture Node runs on, and 4096 is the usual page size; both
 * are only fallbacks for when the auxiliary vector cannot be read (`getconf CLK_TCK` would cost a
 * child process per run).
 */
const DEFAULT_TICKS_PER_SECOND = 100;
const DEFAULT_PAGE_BYTES = 4096;
const AT_NULL = 0;
const AT_PAGESZ = 6;
const AT_CLKTCK = 17;
const ARCHES_32_BIT: ReadonlySet<string> = new Set(['arm', 'ia32', 'mips', 'mipsel', 'ppc', 's390']);

let machine: Machine | undefined;

function linuxMachine(): Machine {
  if (machine === undefined) {
    const aux = readAuxv();
    const ticks = aux.get(AT_CLKTCK);
    const page = aux.get(AT_PAGESZ);
    machine = {
      ticksPerSecond: ticks !== undefined && ticks > 0 && ticks <= 10_000 ? ticks : DEFAULT_TICKS_PER_SECOND,
      // arm64 kernels with 16 KiB or 64 KiB pages (Raspberry Pi 5, Asahi, some RHEL) are common.
      pageBytes: page !== undefined && page >= 1024 && (page & (page - 1)) === 0 ? page : DEFAULT_PAGE_BYTES,
      bootTimeMs: readBootTimeMs(),
    };
  }
  return machine;
}

/** The kernel's auxiliary vector for this process: page size and clock tick rate without a syscall. */
function readAuxv(): Map<number, number> {
  const entries = new Map<number, number>();
  let data: Buffer;
  try {
    data = readFileSync('/proc/self/auxv');
  } catch {
    return entries;
  }
  const wordBytes = ARCHES_32_BIT.has(process.arch) ? 4 : 8;
  const littleEndian = endianness() === 'LE';
  const word = (offset: number): number => {
    if (wordBytes === 4) {
      return littleEndian ? data.readUInt32LE(offset) : data.readUInt32BE(offset);
    }
    return Number(littleEndian ? data.readBigUInt64LE(offset) : data.readBigUInt64BE(offset));
  };
  for (let offset = 0; offset + 2 * wordBytes <= data.length; offset += 2 * wordBytes) {
    const key = word(offset);
    if (key === AT_NULL) {
      break;
    }
    entries.set(key, word(offset + wordBytes));
  }
  return entries;
}

function readBootTimeMs(): number {
  const length = readWhole('/proc/stat');
  const text = readBuffer.toString('latin1', 0, length);
  const found = /^btime (\d+)$/m.exec(text);
  if (found?.[1] === undefined) {
    throw new Error('Expected a `btime` line in /proc/stat, found none');
  }
  return Number(found[1]) * 1000;
}

/**
 * One buffer reused for every /proc read: allocating per file was measured 25% slower than this
 * (1,000 processes: ~26 ms with readFileSync, ~20 ms with a reused buffer, 110+ ms with async reads).
 */
let readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a whole `/proc` file into `readBuffer`, growing it as needed; returns the length read.
 * The kernel fills a `/proc` read as far as the file goes, so a read that leaves room in the
 * buffer has reached the end: asking again only to be told 0 would cost a syscall per file, two
 * per process (1,000 processes: ~3 ms of a ~30 ms scan). Not for regular files.
 */
function readWhole(path: string): number {
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      if (length === readBuffer.length) {
        const bigger = Buffer.allocUnsafe(readBuffer.length * 2);
        readBuffer.copy(bigger);
        readBuffer = bigger;
      }
      const read = readSync(fd, readBuffer, length, readBuffer.length - length, null);
      length += read;
      if (read === 0 || length < readBuffer.length) {
        return length;
      }
    }
  } finally {
    closeSync(fd);
  }
}

const NUL = 0;
const SPACE = 0x20;

/** argv joined by single spaces: the NULs that end each argument become spaces, the last ones go. */
function readCmdline(pid: number): string {
  let length = readWhole(`/proc/${pid}/cmdline`);
  while (length > 0 && readBuffer[length - 1] === NUL) {
    length -= 1;
  }
  for (let index = 0; index < length; index += 1) {
    if (readBuffer[index] === NUL) {
      readBuffer[index] = SPACE;
    }
  }
  return readBuffer.toString('utf8', 0, length);
}

function statOf(pid: number): StatFields {
  return parseStatLine(readBuffer.toString('latin1', 0, readWhole(`/proc/${pid}/stat`)));
}

/** Whether this host has a Linux-style `/proc` to read. */
export const hasProcFs = process.platform === 'linux';

/**
 * `/proc/<pid>/stat` alone (Linux): one file per pid keeps a walk over many processes cheap, where
 * `readProcess` also takes the command line. null when gone, unreadable or not Linux.
 */
export function readStat(pid: number): StatFields | null {
  if (!hasProcFs || !Number.isSafeInteger(pid) || pid <= 0) {
    return null;
  }
  try {
    return statOf(pid);
  } catch {
    return null;
  }
}

/**
 * Pids of the live (non-zombie) members of process group `pgid` (Linux; empty elsewhere). A zombie
 * cannot act on a signal, and where pid 1 does not reap orphans (many containers) it would look
 * alive forever.
 */
export function liveGroupMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const name of names) {
    if (!isPidName(name)) {
      continue;
    }
    const stat = readStat(Number(name));
    if (stat !== null && stat.pgid === pgid && stat.state !== 'Z') {
      members.push(stat.pid);
    }
  }
  return members;
}

function toProcessInfo(stat: StatFields, cmdline: string, host: Machine): ProcessInfo {
  return {
    pid: stat.pid,
    ppid: stat.ppid,
    pgid: stat.pgid,
    sid: stat.sid,
    startTimeMs: host.bootTimeMs + Math.round((stat.startTicks * 1000) / host.ticksPerSecond),
    startTicks: stat.startTicks,
    cmdline,
    state: stat.state,
    rssBytes: stat.rssPages * host.pageBytes,
    cpuMs: Math.round(((stat.utimeTicks + stat.stimeTicks) * 1000) / host.ticksPerSecond),
  };
}

/**
 * A process that exits while it is being read: its files vanish (ENOENT) or refuse (ESRCH).
 * EACCES and EPERM come from `/proc` mounted with `hidepid`: such processes are as invisible
 * as the ones the kernel does not list at all.
 */
const UNREADABLE: ReadonlySet<string | undefined> = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM']);

function isUnreadable(error: unknown): boolean {
  return UNREADABLE.has((error as NodeJS.ErrnoException | null)?.code);
}

function isPidName(name: string): boolean {
  const first = name.charCodeAt(0);
  return first >= 0x30 && first <= 0x39;
}

/**
 * Reads every process on the host in one pass.
 *
 * Linux reads `/proc` (no child process; processes that exit mid-scan are left out; with `/proc`
 * mounted `hidepid`, other users' processes are not seen). Elsewhere it asks `ps` through
 * `ps-list`, which does not give everything: there `pgid`, `sid` and `cpuMs` are -1 (unknown —
 * never pass them to `kill`), `state` is `?`, `startTicks` null, `startTimeMs` to the second
 * (-1 when unknown) and `rssBytes` an estimate from `ps`'s %mem (-1 when unknown).
 */
export async function scanProcessTable(): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') {
    return scanWithPsList();
  }
  const host = linuxMachine();
  const table: ProcessInfo[] = [];
  forEachProcess((pid) => {
    table.push(toProcessInfo(statOf(pid), readCmdline(pid), host));
  });
  return table;
}

/** Calls `visit` with every pid in /proc; a process that ends (or turns unreadable) meanwhile is skipped. */
function forEachProcess(visit: (pid: number) => void): void {
  for (const name of readdirSync('/proc')) {
    if (!isPidName(name)) {
      continue;
    }
    try {
      visit(Number(name));
    } catch (error) {
      if (!isUnreadable(error)) {
        throw error;
      }
    }
  }
}

/** Clock ticks since boot, from `/proc/uptime` (the clock of a stat's start time). */
function uptimeTicks(host: Machine): number {
  const text = readBuffer.toString('latin1', 0, readWhole('/proc/uptime'));
  const seconds = Number(text.slice(0, text.indexOf(' ')));
  if (!Number.isFinite(seconds)) {
    throw new Error(`Expected seconds since boot in /proc/uptime, got \`${text.slice(0, EXCERPT_CHARS)}\``);
  }
  return Math.floor(seconds * host.ticksPerSecond);
}

/**
 * The processes whose command line `wanted` accepts, with every ancestor of each and of `selfPid`
 * (so that `excludedPids` finds cronwatch's own family among them), each read as
 * `scanProcessTable` reads it, in the same order. Every command line is read, but
 * `/proc/<pid>/stat` only for those processes: on a host running many more processes than there
 * are targets, most of a scan's reads. Outside Linux, the whole table.
 */
export async function scanProcessesFor(
  wanted: (cmdline: string) => boolean,
  selfPid: number,
): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') {
    return scanWithPsList();
  }
  const host = linuxMachine();
  // A process started after this moment may hold the pid of one whose command line was read.
  const scanStartTicks = uptimeTicks(host);
  const order: number[] = [];
  const cmdlines = new Map<number, string>();
  const pending: number[] = [selfPid];
  forEachProcess((pid) => {
    const cmdline = readCmdline(pid);
    order.push(pid);
    cmdlines.set(pid, cmdline);
    if (wanted(cmdline)) pending.push(pid);
  });
  const found = new Map<number, ProcessInfo | null>();
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    const cmdline = cmdlines.get(pid);
    if (found.has(pid) || cmdline === undefined) continue;
    try {
      const stat = statOf(pid);
      // Its start time in whole ticks may read one tick early: the margin re-reads a few more.
      const recent = stat.startTicks >= scanStartTicks - 1;
      found.set(pid, toProcessInfo(stat, recent ? readCmdline(pid) : cmdline, host));
      pending.push(stat.ppid);
    } catch (error) {
      if (!isUnreadable(error)) {
        throw error;
      }
      found.set(pid, null);
    }
  }
  const table: ProcessInfo[] = [];
  for (const pid of order) {
    const entry = found.get(pid);
    if (entry !== undefined && entry !== null) table.push(entry);
  }
  return table;
}

/** Attempts at a consistent read of one process while its pid is being reused. */
const READ_ATTEMPTS = 3;

/**
 * Reads one process as `scanProcessTable` would, to re-check its identity right before a signal.
 * Returns null when no such process exists. On Linux the stat is read before and after the command
 * line, so a pid reused between the two reads is never reported with another process's command line.
 * Elsewhere runs `ps` once (best effort; same caveats as `scanProcessTable`, but `pgid` is known).
 */
export function readProcess(pid: number): ProcessInfo | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    return null;
  }
  if (process.platform !== 'linux') {
    return readProcessWithPs(pid);
  }
  const host = linuxMachine();
  try {
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt += 1) {
      const before = statOf(pid);
      const cmdline = readCmdline(pid);
      const after = statOf(pid);
      if (before.startTicks === after.startTicks) {
        return toProcessInfo(after, cmdline, host);
      }
    }
    return null;
  } catch (error) {
    if (isUnreadable(error)) {
      return null;
    }
    throw error;
  }
}
