import { runCli } from '../src/cli/main.js';

await runCli(['status', ...process.argv.slice(2)]);
