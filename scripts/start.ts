import { runCli } from '../src/cli/main.js';

await runCli(['start', ...process.argv.slice(2)]);
