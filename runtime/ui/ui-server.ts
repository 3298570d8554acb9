/**
 * @module ui-server
 * The web server of `reductio ui` (node:http): the page, its assets and the JSON API, read-only,
 * GET only. Bound to 127.0.0.1 by default; then requests must name a loopback host, so a web page
 * elsewhere cannot read the database through a DNS name rebound to this machine.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Backend } from "../backend/backend.js"
import { errorResponse, answerApi } from "./ui-api.js"
import { loadAssets, servedPage } from "./page.js"

export interface UiServerOptions {
  readonly backend: Backend
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 7878; 0 picks a free port. */
  readonly port?: number
  /** Called before each API answer (e.g. to mark abandoned executions); errors are answered. */
  readonly beforeApi?: () => Promise<void>
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"])
const MAX_URL = 8192
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
}

/** The UI server: `start()` listens, `stop()` closes; `url` once started. */
export class UiServer {
  readonly #options: UiServerOptions
  #server: Server | undefined
  #url: string | undefined

  constructor(options: UiServerOptions) {
    this.#options = options
  }

  get url(): string {
    if (this.#url === undefined) throw new Error("the UI server is not started")
    return this.#url
  }

  async start(): Promise<string> {
    const assets = loadAssets()
    const host = this.#options.host ?? "127.0.0.1"
    const loopbackOnly = LOOPBACK.has(host)
    const server = createServer((request, response) => {
      this.#handle(request, response, assets, loopbackOnly).catch((error: unknown) => send(response, errorResponse(error)))
    })
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(this.#options.port ?? 7878, host, () => resolve())
    })
    const address = server.address() as AddressInfo
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address
    this.#url = `http://${shown}:${address.port}/`
    return this.#url
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async #handle(request: IncomingMessage, response: ServerResponse, assets: { js: string; css: string }, loopbackOnly: boolean) {
    const rawUrl = request.url ?? "/"
    if (request.method !== "GET" && request.method !== "HEAD") return sendText(response, 405, "only GET", { allow: "GET, HEAD" })
    if (rawUrl.length > MAX_URL) return sendText(response, 414, "URL too long")
    if (loopbackOnly && !LOOPBACK.has(hostName(request.headers.host ?? "")))
      return sendText(response, 421, "this server answers only requests for 127.0.0.1 or localhost")
    const url = new URL(rawUrl, "http://localhost")
    if (url.pathname.startsWith("/api/") || url.pathname === "/api") {
      await this.#options.beforeApi?.()
      return send(response, await answerApi(this.#options.backend, url.pathname, url.searchParams))
    }
    if (url.pathname === "/assets/app.js") return sendText(response, 200, assets.js, { "content-type": "text/javascript; charset=utf-8" })
    if (url.pathname === "/assets/app.css") return sendText(response, 200, assets.css, { "content-type": "text/css; charset=utf-8" })
    if (url.pathname === "/" || url.pathname === "/index.html")
      return sendText(response, 200, servedPage(), { "content-type": "text/html; charset=utf-8" })
    return send(response, { status: 404, body: { error: { code: "NOT_FOUND", message: `nothing at ${url.pathname.slice(0, 200)}` } } })
  }
}

function hostName(header: string): string {
  const bracket = header.match(/^(\[[^\]]*\])(?::\d+)?$/)
  if (bracket !== null) return bracket[1] ?? ""
  return header.replace(/:\d+$/, "").toLowerCase()
}

function send(response: ServerResponse, answer: { status: number; body: unknown }): void {
  sendText(response, answer.status, JSON.stringify(answer.body), {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  })
}

function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) return
  response.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    ...SECURITY_HEADERS,
    ...headers,
    "content-length": Buffer.byteLength(text),
  })
  response.end(text)
}
