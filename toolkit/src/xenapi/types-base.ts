declare const refBrand: unique symbol;

/** An opaque XenAPI object reference, branded with its class: `Ref<'VM'>` is `OpaqueRef:<uuid>` on the wire. */
export type Ref<C extends string> = string & { readonly [refBrand]: C };

/** The null reference XAPI uses for "no object" (e.g. `VM.resident_on` of a halted VM). */
export const OPAQUE_REF_NULL = 'OpaqueRef:NULL' as Ref<never>;

/** One event of `event.from`: the object's class (lowercase), what happened, and its record (absent for `del`). */
export interface XapiEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly class: string;
  readonly operation: 'add' | 'mod' | 'del';
  readonly ref: string;
  readonly snapshot?: Record<string, unknown>;
}

/** The result of `event.from`: events, a count of valid refs per class, and the token for the next call. */
export interface EventBatch {
  readonly events: XapiEvent[];
  readonly valid_ref_counts: Record<string, number>;
  readonly token: string;
}
