import { runCli } from '../src/cli/main.js';

await runCli(['beat', ...process.argv.slice(2)]);
