import { runCli } from '../src/cli/main.js';

await runCli(['doctor', ...process.argv.slice(2)]);
