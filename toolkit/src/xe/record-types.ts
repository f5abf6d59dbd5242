/**
 * How one `xe` field is read and written. Rows are generated from xen-api records.ml (see
 * toolkit/scripts/gen-xe-records.mjs); the flags decide the `( RO)`/`( RW)`/`(MRO)`/`(MRW)`/`(SRO)`/`(SRW)` marker.
 */
export interface RecordField {
  /** The CLI name, hyphenated as `xe` prints it (`name-label`, `VCPUs-max`). */
  readonly n: string;
  /**
   * How the value is rendered: `auto` by datamodel type, `uuid`/`uuids` refs as uuids, `name` a ref's name-label,
   * `map` `k: v; …`, `set` joined by `; `, `setcomma` by `, `, `values` a map's values, `lower` uncapitalised enum,
   * `date` XAPI's basic ISO 8601, `float` `%.3f`, `none` computed by the CLI itself (see computed fields).
   */
  readonly k: string;
  /** Flags: s settable, S set, M map, a/A add to set/map, m set-in-map, c clear-map, h hidden, e expensive,
   * d deprecated, i case-insensitive. */
  readonly x?: string;
  /** XenAPI class and wire field read. */
  readonly c?: string;
  readonly f?: string;
  /** The datamodel type of `c.f` (`VM ref`, `(string -> string) map`, `enum vm_power_state`…). */
  readonly t?: string;
  /** The ref field of the main record through which `c` is reached (VM.metrics → VM_metrics). */
  readonly v?: string;
  /** Wire methods: setter, add (to set/map), remove (from set/map), set-in-map. */
  readonly ws?: string;
  readonly wa?: string;
  readonly wr?: string;
  readonly wi?: string;
  /** The datamodel type of the value argument of `ws` / `wa` / `wi`. */
  readonly wst?: string;
  readonly wat?: string;
  readonly wit?: string;
}

/** One CLI class: the XenAPI class it reads and its fields in records.ml order. */
export interface RecordClass {
  readonly cls: string;
  readonly fields: readonly RecordField[];
}

/** Every CLI class by its `xe` name (`vm`, `host`, `sr`…). */
export type RecordTable = Readonly<Record<string, RecordClass>>;
