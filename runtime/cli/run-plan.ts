/**
 * @module run-plan
 * How `reductio run --dryrun` prints its plan: what would run and why, what waits on it.
 */
import { previewArgs } from "../preview.js"
import type { DryRunPlan, MissReason, PlannedCall } from "../scheduler/dry-run.js"
import { formatValue } from "./output.js"

const REASONS: Readonly<Record<MissReason, string>> = {
  "cache-off": "cache off",
  "invalid-file": "invalid File",
  "edited-task": "edited task",
  "new-arguments": "new arguments",
  "no-entry": "no entry",
}

/** The plan for people: a summary line, then one line per planned call. */
export function formatPlan(plan: DryRunPlan): string {
  const run = plan.calls.filter((call) => call.status === "run").length
  const waits = plan.calls.length - run
  const head = `dry run (no task body ran, nothing was recorded): ${run} call${run === 1 ? "" : "s"} would run, ${waits} wait${waits === 1 ? "s" : ""} on them, ${plan.cached} cached`
  const lines = [head, ...plan.calls.map(planLine)]
  if (plan.complete) lines.push(`every call is cached; the result would be: ${formatValue(plan.value)}`)
  return `${lines.join("\n")}\n`
}

function planLine(call: PlannedCall): string {
  const id = `#${call.id}`.padStart(6)
  if (call.status === "waits") {
    return `${id}  waits  ${call.label} (args not known yet)  waits on ${(call.waitsOn ?? []).map((other) => `#${other}`).join(", ")}`
  }
  const reason = call.reason === undefined ? "" : `  ${REASONS[call.reason]}: ${call.detail ?? ""}`
  return `${id}  run    ${call.label} (${previewArgs(call.task, call.args ?? [], 60)})  ${call.evalHash?.slice(0, 12) ?? ""}${reason}`
}

/** The plan as JSON: arguments as previews (they may hold anything). */
export function planJson(plan: DryRunPlan): unknown {
  return {
    dryRun: true,
    complete: plan.complete,
    cached: plan.cached,
    calls: plan.calls.map(({ args, ...call }) => ({ ...call, ...(args === undefined ? {} : { args: previewArgs(call.task, args, 200) }) })),
  }
}
