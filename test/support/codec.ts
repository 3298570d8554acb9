/**
 * The codec a test value is encoded with, to call its hooks (prepare, validate, lineage) directly.
 */
import assert from "node:assert/strict"
import { type Codec, forEachRegistered } from "../../runtime/codec.js"

/** The registered codec of `value` (a File, Dir, StagingFile, dataset, ...). */
export function codecOf(value: unknown): Codec<unknown> {
  let found: Codec<unknown> | undefined
  forEachRegistered(value, (_item, codec) => {
    found ??= codec
  })
  assert.ok(found !== undefined)
  return found
}
