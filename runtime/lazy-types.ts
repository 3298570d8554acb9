/**
 * @module lazy-types
 * The types of lazy values: `Lazy<T>` (a value that will exist once reduced, with typed property
 * access, method calls and tuple destructuring), `Lazily<T>` (what a parameter of type `T`
 * accepts) and `Resolved<T>` (what a result holding lazies reduces to).
 */

/** Marks classes whose instances are opaque values (not mapped field by field in lazy types). */
export const opaque: unique symbol = Symbol.for("reductio.opaque") as never

declare const lazyBrand: unique symbol
type Primitive = string | number | boolean | bigint | symbol | null | undefined
type Callable = (...args: never[]) => unknown
// biome-ignore lint/complexity/noBannedTypes: any function type is a leaf here
type Leaf = Primitive | Date | Uint8Array | Map<unknown, unknown> | Set<unknown> | Error | Function | { readonly [opaque]?: true }

/** Methods a Lazy does not offer: they would turn a value that does not exist yet into a string. */
type Conversions = "toString" | "valueOf" | "toLocaleString" | "toJSON" | "constructor" | "then"

/** True when a parameter list takes a function (a callback cannot be part of an expression). */
type TakesCallback<P extends readonly unknown[]> = true extends { [I in keyof P]: P[I] extends Callable ? true : false }[number]
  ? true
  : false

/**
 * The methods of `T` as lazy method calls: `lazyText.toUpperCase()` is a `Lazy<string>`. With
 * `Lifted`, arguments may be lazy too (strings and numbers); otherwise they are plain values,
 * which keeps the types of lazy lists and records of recursive types finite.
 */
type LazyMethods<T, Lifted extends boolean> = {
  readonly [K in keyof T as K extends Conversions
    ? never
    : K extends string
      ? T[K] extends (...args: infer P) => unknown
        ? TakesCallback<P> extends true
          ? never
          : K
        : never
      : never]: LazyMethod<T[K], Lifted>
}

/** A method as a lazy call; a string's keep two overloads (`split(separator)`, `split(splitter)`). */
type LazyMethod<F, Lifted extends boolean> = Lifted extends true
  ? F extends { (...args: infer A1): infer R1; (...args: infer A2): infer R2 }
    ? LazyCall<A1, R1, true> & LazyCall<A2, R2, true>
    : never
  : F extends (...args: infer A) => infer R
    ? LazyCall<A, R, false>
    : never

/**
 * Declared as a method and read back as a function type, so its parameters are checked
 * bivariantly, as a method's are: a `Lazy<{ id; name }[]>` is then a `Lazy<{ id }[]>`, as the
 * values are (strict function types would make every lazy list invariant through `concat`).
 */
type LazyCall<A extends readonly unknown[], R, Lifted extends boolean> = {
  call(...args: Lifted extends true ? LazilyParams<A> : A): Lazy<Resolved<Awaited<R>>>
}["call"]

/** Array methods that a lazy tuple does not offer as a real array would. */
type ArrayOnly = Exclude<keyof (readonly unknown[]), number | "length" | typeof Symbol.iterator>

/** A tuple's positions, lazily: destructuring `const [a, b] = pair` gives `Lazy<A>`, `Lazy<B>`. */
type TupleMembers<T extends readonly unknown[]> = { readonly [I in keyof T]: Lazy<T[I]> } & {
  readonly [K in ArrayOnly]: never
} & { readonly length: Lazy<T["length"]> }

/** True for a union of several types (`boolean` included). */
type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never

type LazyMembers<T> = [T] extends [string]
  ? // biome-ignore lint/complexity/noBannedTypes: the String interface lists a string's methods
    LazyMethods<String, true>
  : [T] extends [number]
    ? // biome-ignore lint/complexity/noBannedTypes: the Number interface lists a number's methods
      LazyMethods<Number, true>
    : [T] extends [Primitive]
      ? unknown
      : true extends IsUnion<T>
        ? [Extract<T, Primitive>] extends [never]
          ? { readonly [K in keyof T as K extends string ? K : never]-?: Lazy<T[K]> }
          : unknown
        : [T] extends [readonly unknown[]]
          ? number extends T["length"]
            ? { readonly [index: number]: Lazy<T[number]>; readonly length: Lazy<number> } & LazyMethods<ReadonlyArray<T[number]>, false>
            : TupleMembers<T>
          : [T] extends [Leaf]
            ? { readonly [K in keyof T as K extends string ? (T[K] extends Callable ? never : K) : never]-?: Lazy<T[K]> } & LazyMethods<
                T,
                false
              >
            : { readonly [K in keyof T as K extends string ? K : never]-?: Lazy<T[K]> }

/**
 * A value that will exist once the scheduler reduces it. Property and index access, method calls
 * and tuple destructuring stay lazy and typed; pass lazies to tasks, return them from tasks; never
 * `await` them. The lazy result of a call that can only fail (`throwError()`) is `never`.
 */
export type Lazy<T> = [T] extends [never] ? never : { readonly [lazyBrand]: T } & LazyMembers<T>

/**
 * What a task parameter of type `T` accepts: the value, a Lazy of it, or lazies inside it.
 * Distributes over unions, so recursive types (`type Json = ... | Json[]`) stay shallow to check.
 */
export type Lazily<T> = T extends unknown
  ?
      | T
      | Lazy<T>
      | ([T] extends [Primitive]
          ? never
          : [T] extends [readonly (infer E)[]]
            ? readonly Lazily<E>[]
            : [T] extends [Map<infer K, infer V>]
              ? Map<Lazily<K>, Lazily<V>>
              : [T] extends [Set<infer E>]
                ? Set<Lazily<E>>
                : [T] extends [Leaf]
                  ? never
                  : { [K in keyof T]: Lazily<T[K]> })
  : never

/** A parameter list, each parameter accepting a value, a Lazy, or lazies nested inside. */
export type LazilyParams<A extends readonly unknown[]> = { [I in keyof A]: Lazily<A[I]> }

/** The value a task's result reduces to: every Lazy inside replaced by its value type (tuples keep their positions). */
export type Resolved<T> = T extends { readonly [lazyBrand]: infer U }
  ? U
  : T extends Primitive
    ? T
    : T extends readonly unknown[]
      ? number extends T["length"]
        ? Resolved<T[number]>[]
        : { -readonly [I in keyof T]: Resolved<T[I]> }
      : T extends Map<infer K, infer V>
        ? Map<Resolved<K>, Resolved<V>>
        : T extends Set<infer E>
          ? Set<Resolved<E>>
          : T extends Leaf
            ? T
            : { [K in keyof T]: Resolved<T[K]> }
