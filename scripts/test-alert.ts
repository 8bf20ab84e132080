import { runCli } from '../src/cli/main.js';

await runCli(['test-alert', ...process.argv.slice(2)]);
