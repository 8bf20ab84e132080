import { runCli } from '../src/cli/main.js';

await runCli(['crontab', ...process.argv.slice(2)]);
