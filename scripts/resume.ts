import { runCli } from '../src/cli/main.js';

await runCli(['resume', ...process.argv.slice(2)]);
