/**
 * @module typescript-loader
 * Lets `import()` load TypeScript files (workflows, configs) through tsx, once per process.
 */

let registered: Promise<void> | undefined

/** Registers tsx's ESM loader unless TypeScript already loads (running under tsx). */
export function ensureTypeScriptLoader(): Promise<void> {
  registered ??= (async () => {
    if (import.meta.url.endsWith(".ts") || process.execArgv.some((arg) => arg.includes("tsx"))) return
    const { register } = await import("tsx/esm/api")
    register()
  })()
  return registered
}
