/** One field of a class in the generated datamodel table: name, type, qualifier (rw / rc / ro), default. */
export interface FieldSpec {
  readonly n: string;
  readonly t: string;
  readonly q: 'rw' | 'rc' | 'ro';
  readonly d?: string;
  readonly removed?: boolean;
}

/** One message: name, parameters `[name, type]` or `[name, type, 0]` when optional, result type, implicit flag, errors. */
export interface MessageSpec {
  readonly n: string;
  readonly p: readonly (readonly [string, string] | readonly [string, string, 0])[];
  readonly r: string;
  readonly i?: 1;
  readonly e?: readonly string[];
  readonly removed?: 1;
}

export interface ClassSpec {
  readonly f: readonly FieldSpec[];
  readonly m: readonly MessageSpec[];
}

export type DatamodelTable = Readonly<Record<string, ClassSpec>>;
