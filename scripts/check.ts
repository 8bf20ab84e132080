import { runCli } from '../src/cli/main.js';

await runCli(['check', ...process.argv.slice(2)]);
