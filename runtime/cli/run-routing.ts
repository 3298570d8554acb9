/**
 * @module run-routing
 * `reductio run --explain-routing` (and the tail of `--dryrun`): which routing rule of the
 * configuration places each task, and the settings the task ends up with before call sites and
 * `-o` overrides.
 */
import { describeMatch, type Route, routeOf, routeOptions } from "../config/routes.js"
import type { CallOptions } from "../expression.js"
import { jobOptions } from "../scheduler/job-state.js"
import type { TaskDefinition } from "../task.js"

/** One task's placement. */
export interface RoutingLine {
  readonly task: string
  /** 1-based position of the rule in the effective list (profiles' first), or undefined: no rule. */
  readonly rule: number | undefined
  readonly match?: string
  readonly name?: string
  readonly origin?: string
  /** What the task runs with, from its declaration, its rule and the run's overrides. */
  readonly placement: Readonly<Record<string, unknown>>
}

const SHOWN = ["executor", "image", "queue", "memory", "vcpus", "gpus", "timeout", "retries"] as const

/** Each task's rule and placement, in name order. */
export function explainRouting(
  tasks: Iterable<TaskDefinition>,
  routes: readonly Route[] | undefined,
  defaultExecutor: string,
  forRun: Readonly<Record<string, CallOptions>> = {},
): RoutingLine[] {
  const lines: RoutingLine[] = []
  for (const task of [...tasks].sort((a, b) => a.name.localeCompare(b.name))) {
    const choice = routeOf(routes, task)
    const options = jobOptions(task, undefined, forRun[task.name], choice === undefined ? undefined : routeOptions(choice.route))
    const placement: Record<string, unknown> = {}
    for (const key of SHOWN) {
      const value = key === "queue" ? options.batch?.queue : key === "executor" ? (options.executor ?? defaultExecutor) : options[key]
      if (value !== undefined) placement[key] = value
    }
    lines.push({
      task: task.name,
      rule: choice === undefined ? undefined : choice.index + 1,
      ...(choice === undefined
        ? {}
        : {
            match: describeMatch(choice.route.match),
            origin: choice.origin,
            ...(choice.route.name === undefined ? {} : { name: choice.route.name }),
          }),
      placement,
    })
  }
  return lines
}

/** The explanation for people: one line per task. */
export function formatRouting(lines: readonly RoutingLine[], ruleCount: number): string {
  const head = `routing: ${ruleCount} rule${ruleCount === 1 ? "" : "s"}, first match wins; call-site options and -o still override`
  const width = Math.max(4, ...lines.map((line) => line.task.length))
  const body = lines.map((line) => {
    const rule =
      line.rule === undefined
        ? "no rule"
        : `rule ${line.rule} ${line.match}${line.name === undefined ? "" : ` "${line.name}"`} (${line.origin})`
    const placement = Object.entries(line.placement)
      .map(([key, value]) => `${key} ${String(value)}`)
      .join(", ")
    return `  ${line.task.padEnd(width)}  ${rule}  →  ${placement}`
  })
  return `${[head, ...body].join("\n")}\n`
}
