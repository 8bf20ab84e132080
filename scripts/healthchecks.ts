import { runCli } from '../src/cli/main.js';

await runCli(['healthchecks', ...process.argv.slice(2)]);
