// `npm start`: one check over the bundled demo config, then the status table, so a new user
// sees a target found down, started, and reported without setting anything up.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';

const config = fileURLToPath(new URL('../examples/demo/cronwatch.yaml', import.meta.url));
const pidfile = relative(
  process.cwd(),
  fileURLToPath(new URL('../examples/demo/demo-daemon.pid', import.meta.url)),
);
process.stdout.write(`$ cronwatch check --verbose --config ${config}\n`);
const checked = await main(['check', '--verbose', '--config', config]);
process.stdout.write(`\n$ cronwatch status --config ${config}\n`);
await main(['status', '--config', config]);
process.stdout.write(
  "\nThe demo daemon runs for 15 minutes. Kill it (this demo's daemon only, not another user's):\n" +
    `  kill $(cat ${pidfile})\n` +
    'then run `npm start` again: cronwatch finds it down, starts it, and says so.\n' +
    'Next: copy examples/cronwatch.yaml and read README.md.\n',
);
process.exitCode = checked;
