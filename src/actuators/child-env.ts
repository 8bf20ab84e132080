/** cronwatch's environment, less its own secrets (the bot token), plus the target's `env`. */
export function childEnv(
  env: Readonly<Record<string, string>>,
  hidden: readonly string[],
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of hidden) delete out[name];
  return { ...out, ...env };
}
