// The daemon that `npm start` watches: it proves it is alive by rewriting its heartbeat file
// every few seconds, and leaves by itself after a while so that the demo leaves nothing behind.
// Its pid file tells this checkout's daemon from another user's: the pattern alone finds both.
import { renameSync, writeFileSync } from 'node:fs';

const HEARTBEAT_FILE = process.env.DEMO_HEARTBEAT ?? 'demo-daemon.heartbeat';
const PID_FILE = process.env.DEMO_PIDFILE ?? 'demo-daemon.pid';
const BEAT_EVERY_MS = 5_000;
const LIVE_FOR_MS = Number(process.env.DEMO_LIVE_FOR_MS ?? 15 * 60_000);

function writeAtomically(file, text) {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

function beat() {
  writeAtomically(
    HEARTBEAT_FILE,
    `${JSON.stringify({ ts: new Date().toISOString(), pid: process.pid, status: 'ok' })}\n`,
  );
}

writeAtomically(PID_FILE, `${process.pid}\n`);

console.log(`${new Date().toISOString()} demo daemon ${process.pid} started; heartbeat in ${HEARTBEAT_FILE}`);
beat();
setInterval(beat, BEAT_EVERY_MS);
setTimeout(() => {
  console.log(
    `${new Date().toISOString()} demo daemon ${process.pid} leaving after ${LIVE_FOR_MS / 60_000} min`,
  );
  process.exit(0);
}, LIVE_FOR_MS);
process.on('SIGTERM', () => {
  console.log(`${new Date().toISOString()} demo daemon ${process.pid} stopping on SIGTERM`);
  process.exit(0);
});
