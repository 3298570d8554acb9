/**
 * @module load-config
 * Finds `reductio.config.ts` from the working directory upwards, loads it (TypeScript through
 * tsx), applies environment overrides (`REDUCTIO_DB`, `REDUCTIO_EXECUTOR`; an empty variable counts as
 * unset) and validates it once.
 */
import { markRouteOrigin } from "./routes.js"
import { existsSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { ReductioError, isReductioError } from "../errors.js"
import { type ReductioConfig, validateConfig } from "./config.js"
import { configureS3 } from "../storage/storage-registry.js"
import { envValue } from "../env.js"
import { nearestPackageJson } from "./package-json.js"
import { ensureTypeScriptLoader } from "./typescript-loader.js"

/** The names a configuration file may have, in the order they are looked for. */
export const CONFIG_FILES = ["reductio.config.ts", "reductio.config.mts", "reductio.config.js", "reductio.config.mjs"] as const

/** A loaded configuration and where it applies. */
export interface LoadedConfig {
  readonly config: ReductioConfig
  /** The config file, when one was found. */
  readonly path: string | undefined
  /** The directory relative paths are resolved against: the config file's, else the cwd. */
  readonly projectDir: string
  /** The database to use after overrides: a SQLite path (absolute), a `postgres://` URL or `memory`. */
  readonly database: string
}

/** Overrides from the command line; they win over the environment, which wins over the file. */
export interface ConfigOverrides {
  readonly configPath?: string | undefined
  readonly database?: string | undefined
  readonly defaultExecutor?: string | undefined
  /** Profiles to apply, in order (`--profile aws,big`); else `REDUCTIO_PROFILE`. */
  readonly profiles?: readonly string[] | undefined
  /**
   * The directory of the workflow being run: the project (its config file, else its nearest
   * package.json) is looked for from there first, so `reductio run ../workflow.ts` from a data
   * folder uses the workflow's database, not a new one in the data folder.
   */
  readonly workflowDir?: string | undefined
}

/** Looks for a config file in `cwd` and its parents. */
export function findConfigFile(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_FILES) {
      const candidate = join(dir, name)
      if (existsSync(candidate)) return candidate
    }
    if (dirname(dir) === dir) return undefined
  }
}

/**
 * Loads and validates the configuration that applies in `cwd`.
 *
 * @example
 * const { config, database } = await loadConfig(process.cwd(), process.env)
 */
export async function loadConfig(cwd: string, env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Promise<LoadedConfig> {
  const explicit = overrides.configPath ?? envValue(env, "REDUCTIO_CONFIG")
  const start = overrides.workflowDir ?? cwd
  const path = explicit === undefined ? (findConfigFile(start) ?? findConfigFile(cwd)) : resolve(cwd, explicit)
  if (explicit !== undefined && (path === undefined || !existsSync(path))) {
    throw new ReductioError("CONFIG_INVALID", `config file ${explicit} does not exist`)
  }
  let raw: unknown = {}
  if (path !== undefined) raw = await importConfig(path)
  const validated = validateConfig(raw, path ?? "config")
  const profileNames = overrides.profiles ?? (env.REDUCTIO_PROFILE ? env.REDUCTIO_PROFILE.split(",") : [])
  const fromFile = withProfiles(validated, profileNames, path ?? "config")
  const withEnv: ReductioConfig = {
    ...fromFile,
    ...(envValue(env, "REDUCTIO_DB") === undefined ? {} : { database: envValue(env, "REDUCTIO_DB") }),
    ...(envValue(env, "REDUCTIO_EXECUTOR") === undefined ? {} : { defaultExecutor: envValue(env, "REDUCTIO_EXECUTOR") }),
  }
  const config = validateConfig(
    {
      ...withEnv,
      ...(overrides.database === undefined ? {} : { database: overrides.database }),
      ...(overrides.defaultExecutor === undefined ? {} : { defaultExecutor: overrides.defaultExecutor }),
    },
    path === undefined ? "settings" : `${path} (with environment and flags)`,
  )
  // Without a config file the project is the nearest package.json's folder (of the workflow when
  // running one), else the working directory.
  const projectDir = path === undefined ? (nearestPackageJson(resolve(cwd, start))?.dir ?? resolve(cwd)) : dirname(path)
  // The file's S3 settings (endpoint, path style, region, transfer tuning) apply to every s3://
  // URI this process resolves; the environment fills what the file leaves out.
  if (config.s3 !== undefined) configureS3(config.s3)
  return { config, path, projectDir, database: resolveDatabase(config.database, projectDir) }
}

/**
 * The configuration with the named profiles applied in order: each profile's keys replace the
 * file's, except that executors, limits and task overrides merge by name, context deeply, and
 * a profile's routing rules go before the ones it extends.
 */
export function withProfiles(config: ReductioConfig, names: readonly string[], source: string): ReductioConfig {
  const { profiles, ...base } = config
  let merged: ReductioConfig = base
  for (const raw of names) {
    const name = raw.trim()
    const profile = profiles?.[name]
    if (profile === undefined) {
      const known = Object.keys(profiles ?? {})
      throw new ReductioError(
        "CONFIG_INVALID",
        `${source}: no profile named ${JSON.stringify(name)}; profiles: ${known.length === 0 ? "(none defined)" : known.join(", ")}`,
        { details: { key: `config.profiles.${name}`, source } },
      )
    }
    merged = {
      ...merged,
      ...profile,
      executors: { ...merged.executors, ...profile.executors },
      limits: { ...merged.limits, ...profile.limits },
      s3: { ...merged.s3, ...profile.s3 },
      tasks: mergeByName(merged.tasks, profile.tasks),
      // A profile's rules are tried first: it refines the placement the file gives.
      ...(profile.routes === undefined && merged.routes === undefined
        ? {}
        : { routes: [...markRouteOrigin(profile.routes, `profile ${name}`), ...markRouteOrigin(merged.routes, "config")] }),
      context: deepMerge(merged.context ?? {}, profile.context ?? {}),
    }
  }
  return merged
}

function mergeByName<T extends object>(
  base: Readonly<Record<string, T>> | undefined,
  more: Readonly<Record<string, T>> | undefined,
): Record<string, T> {
  const out: Record<string, T> = { ...base }
  for (const [name, value] of Object.entries(more ?? {})) out[name] = { ...out[name], ...value }
  return out
}

/** `more` laid over `base`: nested plain objects merge, anything else replaces. */
export function deepMerge(base: Readonly<Record<string, unknown>>, more: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(more)) {
    const under = out[key]
    out[key] = isPlainRecord(under) && isPlainRecord(value) ? deepMerge(under, value) : value
  }
  return out
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype
}

/** A SQLite path resolved against the project, or a URL / `memory` as given. */
export function resolveDatabase(database: string | undefined, projectDir: string): string {
  const spec = database ?? ".reductio/reductio.db"
  if (spec === "memory" || /^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return spec
  const path = spec.startsWith("sqlite:") ? spec.slice("sqlite:".length) : spec
  return isAbsolute(path) ? path : join(projectDir, path)
}

async function importConfig(path: string): Promise<unknown> {
  try {
    await ensureTypeScriptLoader(path)
    const module = (await import(pathToFileURL(path).href)) as { default?: unknown }
    return module.default ?? {}
  } catch (error) {
    if (isReductioError(error)) throw error
    throw new ReductioError("CONFIG_INVALID", `cannot load ${path}: ${(error as Error).message}`, { cause: error })
  }
}
