/**
 * The build's second step (`npm run build`, and `prepare` during `npm ci`): the CLI as one file,
 * `dist/scripts/cronwatch.js`, written over tsc's entry of the same name, which imports some 40
 * modules one by one. `bin` and the crontab lines run this file: cron starts it 288 times a day,
 * and one file loads faster than forty (see the README's Performance section). tsc's `dist/src`
 * stays, for the package's SDK.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const BUNDLE_FILE = join(ROOT, 'dist/scripts/cronwatch.js');

/**
 * Packages compiled in: yaml, which every run with a YAML config needs, and which loads and
 * parses a config in less than half the time from the bundle as from its 74 files. Every other
 * package stays in node_modules, loaded when a command needs it (yargs for all but a plain
 * `check`, the Telegram client when there is something to send), exactly as it would unbundled.
 */
const BUNDLED_PACKAGES: ReadonlySet<string> = new Set(['yaml']);

const otherPackagesExternal: Plugin = {
  name: 'other-packages-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      BUNDLED_PACKAGES.has(args.path.split('/')[0]!) ? undefined : { path: args.path, external: true },
    );
  },
};

export function bundleOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [join(ROOT, 'scripts/cronwatch.ts')],
    outfile,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [otherPackagesExternal],
    // yaml is CommonJS and requires node's builtins; an ES module has no `require` of its own.
    banner: {
      js: "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await build(bundleOptions(BUNDLE_FILE));
