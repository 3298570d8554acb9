/**
 * @module page
 * The UI's HTML: the page `reductio ui` serves (its script and styles from /assets/) and the
 * self-contained one `reductio report` writes (script, styles and the API answers inlined).
 * The browser code is built by scripts/build.js from ui/ into dist/ui/.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { ReductioError } from "../errors.js"
import { packageRoot } from "../package-root.js"

/** The built browser assets. */
export interface UiAssets {
  readonly js: string
  readonly css: string
}

let cached: UiAssets | undefined

/** Reads dist/ui/app.js and app.css (NOT_FOUND naming the build when they are missing). */
export function loadAssets(): UiAssets {
  if (cached !== undefined) return cached
  const dir = join(packageRoot(), "dist", "ui")
  const js = join(dir, "app.js")
  const css = join(dir, "app.css")
  if (!existsSync(js) || !existsSync(css)) {
    throw new ReductioError(
      "NOT_FOUND",
      "the UI's assets (dist/ui/app.js, app.css) are missing from the reductio package: run npm run build",
    )
  }
  cached = { js: readFileSync(js, "utf8"), css: readFileSync(css, "utf8") }
  return cached
}

/** The page the server serves: it loads its assets from the same origin. */
export function servedPage(): string {
  return shell('<link rel="stylesheet" href="/assets/app.css">', '<script type="module" src="/assets/app.js"></script>')
}

/**
 * One self-contained page: `data` maps API paths (with their query) to the answers the views read.
 * Inlined text is escaped so that nothing in a value (a `</script>` in an argument) ends a tag.
 */
export function reportPage(assets: UiAssets, data: Readonly<Record<string, unknown>>, start: string): string {
  const json = JSON.stringify({ start, answers: data })
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029")
  return shell(
    `<style>${assets.css.replace(/<\/style/gi, "<\\/style")}</style>`,
    `<script type="application/json" id="reductio-report">${json}</script>\n<script type="module">${assets.js.replace(/<\/script/gi, "<\\/script")}</script>`,
  )
}

function shell(head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reductio</title>
${head}
</head>
<body>
<div id="app"></div>
${body}
</body>
</html>
`
}
