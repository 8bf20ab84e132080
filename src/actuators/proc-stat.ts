import { readdirSync, readFileSync } from 'node:fs';
import { parseStatLine, type StatFields } from '../probes/process-table.js';

/** Whether this host has a Linux-style `/proc` to read. */
export const hasProcFs = process.platform === 'linux';

/**
 * `/proc/<pid>/stat` alone (Linux): one file per pid keeps a scan of every process cheap, where
 * the probe's full read also takes the command line. null when gone or unreadable.
 */
export function readStat(pid: number): StatFields | null {
  try {
    return parseStatLine(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * Pids of the live (non-zombie) members of process group `pgid` (Linux). A zombie cannot act on
 * a signal, and where pid 1 does not reap orphans (many containers) it would look alive forever.
 */
export function liveGroupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (stat !== null && stat.pgid === pgid && stat.state !== 'Z') members.push(pid);
  }
  return members;
}
