import { runCli } from '../src/cli/main.js';

await runCli(['summary', ...process.argv.slice(2)]);
