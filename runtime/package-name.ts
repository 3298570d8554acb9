/**
 * @module package-name
 * The npm package's name: what workflows import (`import { task } from "reductio-workflow"`), what
 * bundles leave to the agent, and what the agent's kernel shim is called. The command stays `reductio`.
 */
export const PACKAGE_NAME = "reductio-workflow"
