/**
 * @module typescript-loader
 * Lets `import()` load TypeScript files (workflows, configs) through tsx, once per process.
 */

let registered: Promise<void> | undefined

/**
 * Registers tsx's ESM loader, for a TypeScript `file` (a JavaScript one needs none: starting the
 * loader costs a worker thread, and every module loaded after passes through it), unless
 * TypeScript already loads (running under tsx).
 */
export function ensureTypeScriptLoader(file: string): Promise<void> {
  if (/\.(c|m)?js$/.test(file)) return registered ?? Promise.resolve()
  registered ??= (async () => {
    if (import.meta.url.endsWith(".ts") || process.execArgv.some((arg) => arg.includes("tsx"))) return
    const { register } = await import("tsx/esm/api")
    register()
  })()
  return registered
}
