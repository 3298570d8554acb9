/**
 * @module env
 * Reading environment variables: one set to the empty string counts as unset, so
 * `REDUCTIO_CONFIG= reductio run ...` (or an `export VAR=` left in a shell profile) means "no
 * override", as it does for every reductio variable.
 */

/**
 * The variable's value, or undefined when it is unset or empty.
 *
 * @example
 * const configPath = envValue(process.env, "REDUCTIO_CONFIG") ?? findConfigFile(cwd)
 */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === "" ? undefined : value
}
