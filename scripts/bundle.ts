/**
 * The build's second step (`npm run build`, and `prepare` during `npm ci`): the CLI as one
 * CommonJS file, `dist/scripts/cronwatch.cjs`, and the loader `bin` and the crontab lines run,
 * `dist/scripts/cronwatch.js`, written over tsc's entry of the same name (which imports some 40
 * modules one by one). The loader compiles the bundle with V8's code cache (see
 * `src/cli/code-cache.ts`): cron starts it 288 times a day, and one file compiled once loads
 * faster than forty compiled every time (see the README's Performance section). tsc's
 * `dist/src` stays, for the package's SDK.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, 'dist/scripts');
export const BUNDLE_NAME = 'cronwatch.cjs';
export const LOADER_NAME = 'cronwatch.js';

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

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  allowOverwrite: true,
  logLevel: 'warning',
};

/** The two files, written to `outDir`: the bundle and the loader that runs it. */
export function bundleOptions(outDir: string): BuildOptions[] {
  return [
    {
      ...COMMON,
      entryPoints: [join(ROOT, 'src/cli/main.ts')],
      outfile: join(outDir, BUNDLE_NAME),
      format: 'cjs',
      plugins: [otherPackagesExternal],
      // main.ts and crontab.ts find the package from their own file, which is now this one.
      define: { 'import.meta.url': 'bundleUrl' },
      banner: { js: "const bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    },
    {
      ...COMMON,
      stdin: {
        contents: [
          "import { fileURLToPath } from 'node:url';",
          "import { runBundle } from './src/cli/code-cache.ts';",
          `await runBundle(fileURLToPath(new URL('./${BUNDLE_NAME}', import.meta.url)), process.argv.slice(2));`,
        ].join('\n'),
        resolveDir: ROOT,
        sourcefile: 'cronwatch-loader.ts',
        loader: 'ts',
      },
      outfile: join(outDir, LOADER_NAME),
      format: 'esm',
      banner: { js: '#!/usr/bin/env node' },
    },
  ];
}

/**
 * `import("x")` in the bundle made a call to the loader's `importDynamic`: code compiled by
 * `vm.Script` can import only through a callback node 20 marks experimental (with a warning on
 * every run) or puts behind a flag.
 */
function routeDynamicImports(code: string): string {
  const all = code.match(/\bimport\(/g)?.length ?? 0;
  let routed = 0;
  const result = code.replace(/\bimport\(("[^"]+")\)/g, (_, specifier: string) => {
    routed += 1;
    return `importDynamic(${specifier})`;
  });
  if (routed !== all) {
    throw new Error(`Expected every import() in the bundle to name a string literal; ${all - routed} do not`);
  }
  return result;
}

export async function bundleCli(outDir: string): Promise<void> {
  const [bundle, loader] = bundleOptions(outDir);
  const built = await build({ ...bundle!, write: false });
  await writeFile(join(outDir, BUNDLE_NAME), routeDynamicImports(built.outputFiles[0]!.text));
  await build(loader!);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleCli(OUT_DIR);
