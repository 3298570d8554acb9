/**
 * A throwaway project directory whose files can `import { task } from "reductio-workflow"`.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { repoRoot } from "./cli.js"

export interface TempProject {
  readonly dir: string
  write(path: string, text: string): Promise<string>
  remove(): Promise<void>
}

export async function tempProject(prefix = "reductio-test-"): Promise<TempProject> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await mkdir(join(dir, "node_modules"), { recursive: true })
  await symlink(repoRoot, join(dir, "node_modules", "reductio-workflow"), "dir")
  await writeFile(join(dir, "package.json"), `${JSON.stringify({ name: "workflow-project", private: true, type: "module" })}\n`)
  return {
    dir,
    async write(path, text) {
      const full = join(dir, path)
      await mkdir(dirname(full), { recursive: true })
      await writeFile(full, text)
      return full
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}
