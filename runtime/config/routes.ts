/**
 * @module routes
 * Routing rules of `reductio.config.ts`: an ordered list of `{ match, executor?, image?, queue?,
 * memory?, vcpus?, gpus?, timeout?, retries?, batch? }` applied to task names, so a team moves
 * tasks between executors, queues, images and sizes without editing the workflow. The first rule
 * whose `match` accepts a task places it; its settings lie over the task's declared options, and
 * call-site options and the run's overrides (`tasks`, `-o`) lie over the rule.
 */
import { type BatchJobOptions, checkBatchOptions } from "../executor/batch/batch-options.js"
import type { CallOptions } from "../expression.js"

/** What a function `match` is given. */
export interface RoutedTask {
  /** The full task name (`namespace.name`). */
  readonly name: string
  /** The task's declared options. */
  readonly options: CallOptions
}

/**
 * Which tasks a rule places: a glob on the task name (`*` any characters, `?` one; `align.*`),
 * a regular expression tested on the name, or a predicate.
 */
export type RouteMatch = string | RegExp | ((task: RoutedTask) => boolean)

/**
 * One routing rule.
 *
 * @example
 * routes: [
 *   { match: "align.*", executor: "batch", queue: "gpu", gpus: 1, memory: 16384 },
 *   { match: /^qc\./, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qc@sha256:…" },
 *   { match: (task) => (task.options.memory ?? 0) > 65536, queue: "highmem" },
 * ]
 */
export interface Route {
  readonly match: RouteMatch
  /** Shown by `--explain-routing`. */
  readonly name?: string
  readonly executor?: string
  /** The container image (AWS Batch); pin it by digest (`repo@sha256:…`) so every job of the rule runs the same bytes. */
  readonly image?: string
  /** AWS Batch job queue (shorthand for `batch.queue`). */
  readonly queue?: string
  /** MiB. */
  readonly memory?: number
  readonly vcpus?: number
  readonly gpus?: number
  /** Seconds. */
  readonly timeout?: number
  readonly retries?: number
  /** Any other AWS Batch settings (see BatchJobOptions). */
  readonly batch?: BatchJobOptions
}

/** The rule that placed a task: its position in the effective list, and where it was defined. */
export interface RouteChoice {
  readonly index: number
  readonly route: Route
  readonly origin: string
}

const origins = new WeakMap<Route, string>()

/** Records where rules came from (`config`, `profile gpu`) for explanations. */
export function markRouteOrigin(routes: readonly Route[] | undefined, origin: string): readonly Route[] {
  for (const route of routes ?? []) if (!origins.has(route)) origins.set(route, origin)
  return routes ?? []
}

/** The first rule that matches the task, or undefined. A predicate that throws does not match. */
export function routeOf(routes: readonly Route[] | undefined, task: RoutedTask): RouteChoice | undefined {
  for (const [index, route] of (routes ?? []).entries()) {
    if (matches(route.match, task)) return { index, route, origin: origins.get(route) ?? "config" }
  }
  return undefined
}

function matches(match: RouteMatch, task: RoutedTask): boolean {
  if (typeof match === "string") return globRegExp(match).test(task.name)
  if (match instanceof RegExp) {
    match.lastIndex = 0
    return match.test(task.name)
  }
  try {
    return match(task) === true
  } catch {
    return false
  }
}

const globs = new Map<string, RegExp>()

function globRegExp(glob: string): RegExp {
  let regex = globs.get(glob)
  if (regex === undefined) {
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")
    regex = new RegExp(`^${body}$`, "s")
    globs.set(glob, regex)
  }
  return regex
}

/**
 * The scheduler's `routing` for a list of rules (undefined when there are none).
 *
 * @example
 * new Scheduler({ routing: routingFor(config.routes) })
 */
export function routingFor(routes: readonly Route[] | undefined): ((task: RoutedTask) => CallOptions | undefined) | undefined {
  if (routes === undefined || routes.length === 0) return undefined
  return (task) => {
    const choice = routeOf(routes, task)
    return choice === undefined ? undefined : routeOptions(choice.route)
  }
}

/** The call options a rule sets (its `queue` goes into `batch`). */
export function routeOptions(route: Route): CallOptions {
  const { match: _match, name: _name, queue, batch, ...options } = route
  const merged = queue === undefined ? batch : { ...batch, queue }
  return { ...options, ...(merged === undefined ? {} : { batch: merged }) } as CallOptions
}

/** A rule's `match` for people: the glob in quotes, the regex literal, or `(function)`. */
export function describeMatch(match: RouteMatch): string {
  if (typeof match === "string") return JSON.stringify(match)
  if (match instanceof RegExp) return String(match)
  return `(${match.name === "" || match.name === "match" ? "function" : `function ${match.name}`})`
}

const NUMBER_FIELDS = ["memory", "vcpus", "gpus", "timeout", "retries"] as const
const ROUTE_FIELDS = ["match", "name", "executor", "image", "queue", ...NUMBER_FIELDS, "batch"]

/**
 * Checks a `routes` list; `fail(key, problem)` throws. `executors`, when given, are the names a
 * rule may give.
 */
export function checkRoutes(
  value: unknown,
  key: string,
  executors: readonly string[] | undefined,
  fail: (key: string, problem: string) => never,
): void {
  if (!Array.isArray(value)) fail(key, 'must be a list of routing rules, e.g. [{ match: "align.*", queue: "gpu" }]')
  for (const [index, route] of (value as unknown[]).entries()) {
    const at = `${key}[${index}]`
    if (typeof route !== "object" || route === null || Array.isArray(route)) fail(at, "must be an object with a match")
    const rule = route as Record<string, unknown>
    for (const name of Object.keys(rule)) {
      if (!ROUTE_FIELDS.includes(name)) fail(`${at}.${name}`, `is not a routing rule field; known: ${ROUTE_FIELDS.join(", ")}`)
    }
    const { match } = rule
    if (!((typeof match === "string" && match !== "") || match instanceof RegExp || typeof match === "function")) {
      fail(`${at}.match`, 'must be a glob on task names ("align.*"), a regular expression or a function of the task')
    }
    for (const name of ["name", "image", "queue", "executor"] as const) {
      const field = rule[name]
      if (field !== undefined && (typeof field !== "string" || field === "")) fail(`${at}.${name}`, "must be a non-empty string")
    }
    if (executors !== undefined && typeof rule.executor === "string" && !executors.includes(rule.executor)) {
      fail(`${at}.executor`, `names executor "${rule.executor}", which is not defined; defined: ${executors.join(", ")}`)
    }
    for (const name of NUMBER_FIELDS) {
      const field = rule[name]
      const whole = name === "gpus" || name === "retries"
      if (
        field !== undefined &&
        (typeof field !== "number" || !Number.isFinite(field) || field < 0 || (whole && !Number.isInteger(field)))
      ) {
        fail(`${at}.${name}`, `must be a ${whole ? "whole number" : "number"} ≥ 0 (got ${JSON.stringify(field)})`)
      }
    }
    if (rule.batch !== undefined) checkBatchOptions(rule.batch, `${at}.batch`, fail)
  }
}
