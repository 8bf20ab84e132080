import { runCli } from '../src/cli/main.js';

await runCli(['stop', ...process.argv.slice(2)]);
