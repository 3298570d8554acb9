import type { Metafile } from "esbuild"

/** Drivers the kernel may import lazily on the host; never needed inside the container. */
export declare const HOST_ONLY: readonly string[]
/** Builds the agent to `outfile` (default agent/dist/agent.js) and returns esbuild's metafile; `entry` builds another agent entry (default agent/main.ts). */
export declare function buildAgent(outfile?: string, entry?: string): Promise<Metafile>
