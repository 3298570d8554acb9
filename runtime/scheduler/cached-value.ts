/**
 * @module cached-value
 * Reading a value back from the cache: decoding it and checking that what it refers to (a File's
 * copy on disk or S3) still holds, through the codecs' `validate` hooks.
 */
import { decode, forEachRegistered, hasValueHooks, TAGS } from "../codec.js"

/** A cached value that no longer holds: the call must run again. */
export const INVALID = Symbol("invalid")

/** The CBOR heads of the expression tags (major type 6; a tag of 256 to 65,535 takes two bytes). */
const tagHead = (tag: number) => Buffer.from([0xd9, tag >> 8, tag & 0xff])
/** Every value written with expressions holds a table of them; older values nest tag 40120 in place. */
const EXPRESSION_TAGS = [tagHead(TAGS.expressionGraph), tagHead(TAGS.expression)]
for (const tag of [TAGS.expressionGraph, TAGS.expression]) {
  if (tag < 256 || tag > 0xffff) throw new Error("the expression tags must take two bytes")
}

/**
 * False when encoded `bytes` certainly hold no expression (no call to replay), without decoding
 * them. True may be wrong (the same bytes inside a string): it costs a replay that is tried.
 */
export function mayHoldExpressions(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return EXPRESSION_TAGS.some((head) => buffer.indexOf(head) !== -1)
}

/** A decoded cached value; `checked` tells whether it held anything with a `validate` hook. */
export interface Decoded {
  readonly value: unknown
  readonly checked: boolean
}

/**
 * Decodes a cached value; INVALID when a value inside (e.g. a File) no longer holds. Most values
 * hold no File: those are answered without a promise.
 */
export function decodeIfValid(bytes: Uint8Array): Decoded | typeof INVALID | Promise<Decoded | typeof INVALID> {
  if (!hasValueHooks()) return { value: decode(bytes), checked: false }
  const checks: Promise<boolean>[] = []
  const value = decode(bytes, {
    visit: (item, codec) => {
      if (codec.validate !== undefined) checks.push(codec.validate(item))
    },
  })
  if (checks.length === 0) return { value, checked: false }
  return Promise.all(checks).then((results) => (results.every(Boolean) ? { value, checked: true } : INVALID))
}

/**
 * True when `value` holds something the cache checks before reuse (a File), outside any call
 * expression inside it (what a call returns itself, or the arguments it was given).
 */
export function holdsCheckedValue(value: unknown): boolean {
  if (!hasValueHooks() || typeof value !== "object" || value === null) return false
  let found = false
  forEachRegistered(
    value,
    (_item, codec) => {
      if (codec.validate !== undefined) found = true
    },
    { intoExpressions: false },
  )
  return found
}

/** The paths of the values in a cached value that no longer hold (what a dry run reports). */
export async function invalidPaths(bytes: Uint8Array): Promise<string[]> {
  const checks: Promise<string | undefined>[] = []
  decode(bytes, {
    visit: (item, codec) => {
      const validate = codec.validate
      if (validate === undefined) return
      const path = codec.lineage?.(item)?.path ?? "?"
      checks.push(validate(item).then((valid) => (valid ? undefined : path)))
    },
  })
  return (await Promise.all(checks)).filter((path): path is string => path !== undefined)
}
