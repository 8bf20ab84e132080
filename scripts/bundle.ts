/**
 * The build's second step (`npm run build`, and `prepare` during `npm ci`), into dist/scripts:
 *
 * - `cronwatch.cjs`, the loader `bin` and the crontab lines run: a plain `check` line goes to
 *   `cronwatch-check.cjs`, every other argv to `cronwatch-cli.cjs`, each compiled from one file
 *   (see `src/cli/code-cache.ts`). CommonJS, so that node does not start its ES module loader;
 * - `cronwatch-check.cjs`: the cron path alone (src/cli/check-main.ts), about half of the CLI;
 * - `cronwatch-cli.cjs`: the whole CLI (src/cli/main.ts);
 * - `cronwatch-yaml.cjs`: the YAML parser and its error reporting (src/cli/config-yaml.ts), which
 *   both load only when the config cache misses: it is as big as the rest together;
 * - `cronwatch.js`, written over tsc's entry of the same name: an ES module that runs
 *   `cronwatch.cjs`, for the crontab lines and links made before the loader was CommonJS.
 *
 * Cron starts the check line 288 times a day: one file compiled once loads faster than forty
 * compiled every time (see the README's Performance section). tsc's `dist/src` stays, for the
 * package's SDK.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { CHECK_BUNDLE, CLI_BUNDLE, LOADER_NAME, YAML_BUNDLE } from '../src/cli/build-files.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, 'dist/scripts');
const ESM_LOADER_NAME = 'cronwatch.js';

/**
 * The YAML bundle is the one place the `yaml` package is compiled in: it loads and parses a
 * config in less than half the time from one file as from its 74. Every other package stays in
 * node_modules, loaded when a command needs it (yargs for all but a plain `check`, the Telegram
 * client when there is something to send), exactly as it would unbundled.
 */
function externals(bundleYaml: boolean): Plugin {
  return {
    name: 'externals',
    setup(builder) {
      builder.onResolve({ filter: /\/config-yaml\.js$/ }, () =>
        bundleYaml ? undefined : { path: `./${YAML_BUNDLE}`, external: true },
      );
      builder.onResolve({ filter: /^[^./]/ }, (args) =>
        bundleYaml && args.path.split('/')[0] === 'yaml' ? undefined : { path: args.path, external: true },
      );
    },
  };
}

const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  allowOverwrite: true,
  logLevel: 'warning',
  // crontab.ts and main.ts find the package from their own file, which is now the bundle.
  define: { 'import.meta.url': 'bundleUrl' },
  banner: { js: "const bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

function loaderOptions(outDir: string): BuildOptions {
  return {
    ...COMMON,
    stdin: {
      contents: [
        "import { join } from 'node:path';",
        "import { setFlagsFromString } from 'node:v8';",
        "import { parseCheckArgv } from './src/cli/check-argv.ts';",
        "import { runBundle } from './src/cli/code-cache.ts';",
        // A run lives well under a second: V8 growing its young generation as garbage piles up
        // (from 1 to 8 MB a semi-space) buys it fewer scavenges and costs peak memory (at 1,000
        // targets, 65 MB instead of 60). Set before anything else allocates much.
        "setFlagsFromString('--semi-space-growth-factor=1');",
        'const argv = process.argv.slice(2);',
        'const check = parseCheckArgv(argv) !== null;',
        `void runBundle(join(__dirname, check ? '${CHECK_BUNDLE}' : '${CLI_BUNDLE}'), argv, { cache: check });`,
      ].join('\n'),
      resolveDir: ROOT,
      sourcefile: 'cronwatch-loader.ts',
      loader: 'ts',
    },
    outfile: join(outDir, LOADER_NAME),
    define: {},
    banner: { js: '#!/usr/bin/env node' },
  };
}

/**
 * `import("x")` in a bundle: node's builtins and the YAML bundle are required (an `import()` would
 * start node's ES module loader for them); a package is imported through the loader's
 * `importDynamic`, since code compiled by `vm.Script` can import only through a callback node 20
 * marks experimental (with a warning on every run) or puts behind a flag.
 */
function routeDynamicImports(code: string): string {
  const all = code.match(/\bimport\(/g)?.length ?? 0;
  let routed = 0;
  const result = code.replace(/\bimport\(("[^"]+")\)/g, (_, specifier: string) => {
    routed += 1;
    return /^"(node:|\.\/)/.test(specifier)
      ? `Promise.resolve().then(() => require(${specifier}))`
      : `importDynamic(${specifier})`;
  });
  if (routed !== all) {
    throw new Error(`Expected every import() in the bundle to name a string literal; ${all - routed} do not`);
  }
  return result;
}

async function bundle(entry: string, bundleYaml: boolean, parserBuild: string | null): Promise<string> {
  const built = await build({
    ...COMMON,
    entryPoints: [join(ROOT, entry)],
    plugins: [externals(bundleYaml)],
    define: {
      ...COMMON.define,
      ...(parserBuild === null ? {} : { CRONWATCH_PARSER_BUILD: JSON.stringify(parserBuild) }),
    },
    write: false,
  });
  return routeDynamicImports(built.outputFiles[0]!.text);
}

export async function bundleCli(outDir: string): Promise<void> {
  const yaml = await bundle('src/cli/config-yaml.ts', true, null);
  await writeFile(join(outDir, YAML_BUNDLE), yaml);
  // What a cached config document depends on (see src/store/config-cache.ts).
  const parserBuild = createHash('sha256').update(yaml).digest('hex').slice(0, 16);
  await writeFile(join(outDir, CHECK_BUNDLE), await bundle('src/cli/check-main.ts', false, parserBuild));
  await writeFile(join(outDir, CLI_BUNDLE), await bundle('src/cli/main.ts', false, parserBuild));
  await build(loaderOptions(outDir));
  await writeFile(
    join(outDir, ESM_LOADER_NAME),
    `#!/usr/bin/env node\n// For crontab lines and links made before the loader was ${LOADER_NAME}.\nimport './${LOADER_NAME}';\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleCli(OUT_DIR);
