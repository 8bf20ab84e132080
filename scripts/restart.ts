import { runCli } from '../src/cli/main.js';

await runCli(['restart', ...process.argv.slice(2)]);
