import { runCli } from '../src/cli/main.js';

await runCli(['pause', ...process.argv.slice(2)]);
