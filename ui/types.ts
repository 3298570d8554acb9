/** The API's answers, as the page reads them (docs/ui-api.md). */
export type JobStatus = "PENDING" | "RUNNING" | "WAITING" | "DONE" | "CACHED" | "FAILED" | "CANCELLED" | "ABANDONED"
export type ExecutionStatus = "RUNNING" | "DONE" | "FAILED" | "CANCELLED" | "ABANDONED"
export type StatusCounts = Partial<Record<JobStatus, number>>

export interface Totals {
  jobs: number
  done: number
  cached: number
  reused: number
  failed: number
  cancelled: number
  running: number
  waiting: number
  pending: number
}

export interface ExecutionSummary {
  id: string
  startedAt: number
  endedAt: number | null
  status: ExecutionStatus
  command: string
  rootCallHash: string | null
  error: string | null
  tags: Record<string, string>
  durationMs: number | null
  counts: { jobs: number; byStatus: StatusCounts; reusedCalls: number }
  totals: Totals
}

export interface ExecutionList {
  executions: ExecutionSummary[]
  limit: number
  offset: number
  more: boolean
  report?: boolean
}

export interface JobSummary {
  seq: number
  parentSeq: number | null
  task: string
  label: string
  status: JobStatus
  cached: boolean
  createdAt: number
  startedAt: number | null
  bodyEndedAt: number | null
  endedAt: number | null
  args: string
  error: string | null
  reusedCalls: number | null
}

export type GraphData =
  | { mode: "jobs"; nodes: JobSummary[]; edges: [number, number][] }
  | {
      mode: "tasks"
      nodes: { task: string; count: number; byStatus: StatusCounts }[]
      edges: { from: string; to: string; count: number }[]
    }

export interface ExecutionDetail {
  execution: ExecutionSummary
  graph: GraphData
  groupThreshold: number
}

export interface JobPage {
  executionId: string
  jobs: JobSummary[]
  limit: number
  offset: number
  more: boolean
}

export interface Timeline {
  executionId: string
  status: ExecutionStatus
  startedAt: number
  durationMs: number
  tasks: string[]
  executors: (string | null)[]
  jobs: {
    seq: number[]
    parentSeq: (number | null)[]
    task: number[]
    executor: number[]
    status: JobStatus[]
    cached: boolean[]
    created: number[]
    started: (number | null)[]
    bodyEnded: (number | null)[]
    ended: (number | null)[]
  }
}

export interface FileRef {
  kind: "File" | "Dir" | "StagingFile"
  path: string
  hash: string | null
}

export interface DecodedPreview {
  preview: string
  files: FileRef[]
  note?: string
}

export interface JobDetail {
  executionId: string
  executionStatus: ExecutionStatus
  job: JobSummary
  task: { name: string; hash: string; version: string | null }
  name: string | null
  evalHash: string
  callHash: string | null
  argsHash: string | null
  valueHash: string | null
  args: { preview: string; items: DecodedPreview[]; files: FileRef[] } | null
  result: DecodedPreview | null
  error: {
    name: string
    code: string | null
    message: string
    stack: string | null
    exitCode: number | null
    stderrTail: string | null
    logTail: string | null
  } | null
  times: {
    createdAt: number
    startedAt: number | null
    bodyEndedAt: number | null
    endedAt: number | null
    waitMs: number | null
    runMs: number | null
    childrenMs: number | null
    totalMs: number | null
  }
  cached: boolean
  replayed: number | null
  executor: string | null
  executorJobId: string | null
  image: string | null
  parent: JobSummary | null
  children: JobSummary[]
  moreChildren: boolean
}

export interface FileUse {
  role: "input" | "output"
  task: string
  callHash: string
  fileHash: string
  executionId: string | null
  at: number | null
  seq: number | null
  args: string
}

export interface LineageNode extends FileUse {
  inputs: { path: string; fileHash: string; producers: LineageNode[] }[]
}

export interface FileLineage {
  path: string
  producers: LineageNode[]
  consumers: FileUse[]
}

export interface TaskDetail {
  name: string
  versions: { hash: string; version: string | null; source: string }[]
  recentJobs: { executionId: string; seq: number; status: JobStatus; taskHash: string; createdAt: number }[]
}
