/**
 * Xen's credit scheduler (credit1, the XCP-ng / XenServer default) in its steady state: how one host's pCPUs are
 * shared among the vCPUs of the domains running on it, its dom0 included.
 *
 * What credit1 does (xen/common/sched/credit.c; xen/common/sched_credit.c in older Xen, same rules):
 * - `csched_acct` hands out each period's credit to the active domains by weight (default 256, CSCHED_DEFAULT_WEIGHT)
 *   *times their active vCPUs*: `weight_total` adds a domain's weight once per active vCPU ("Make weight per-vcpu" in
 *   `__csched_vcpu_acct_start`) and `credit_fair = credit_total * weight * active_unit_count / weight_total`, then
 *   split equally among those vCPUs. So two busy domains with the same vCPU count share 2:1 at weights 512:256, and
 *   at equal weights a busy 4-vCPU domain gets twice what a busy 2-vCPU one gets. A vCPU that does not use its
 *   credit stops being active (it stops earning), which leaves its share to the others: work-conserving.
 * - `cap` bounds a domain's total in percent of one pCPU (50 = half a pCPU, 400 = four; 0 = none): `credit_peak` is
 *   at most `cap * credits_per_tslice / 100`, and a vCPU past its part of it is parked (paused) until it has credit
 *   again — paused, not runnable: capped time is not time waiting for a pCPU.
 * - a vCPU runs on one pCPU at a time: never more than 1.0.
 *
 * Averaged over a sampling step that is weighted max-min fairness over vCPUs, computed here by water-filling: each
 * domain's cap is first split among its vCPUs (equal parts, each at most what the vCPU wants), then the host's pCPUs
 * are filled over every vCPU with its domain's weight, none above its part. Short-term effects (BOOST for waking
 * vCPUs, the 30 ms time slice, load balancing between pCPUs, affinity) average out over a 5-second step and are not
 * modelled.
 */

/** One running domain as the scheduler sees it. */
export interface CreditDomain {
  /** Credit weight, 1..65535 (Xen's default 256). */
  readonly weight: number;
  /** Cap in percent of one pCPU; 0 = none. */
  readonly cap: number;
  /** What each vCPU would run if nothing held it back, 0..1. */
  readonly want: readonly number[];
}

/** What the scheduler gives one domain, per vCPU. */
export interface CreditShare {
  /** `want` limited by the domain's cap alone (the rest is time parked by the cap). */
  readonly allowed: number[];
  /** What each vCPU runs: `allowed` less the time it waits for a pCPU (runnable). */
  readonly got: number[];
}

/**
 * Weighted water-filling: shares `capacity` among items in proportion to their weights, none above its limit, what
 * one cannot use going to the others. Returns each item's share, in the items' order.
 */
export function waterFill(capacity: number, items: readonly { limit: number; weight: number }[]): number[] {
  const out = new Array<number>(items.length).fill(0);
  // Fill the items that saturate first (lowest limit per unit of weight): what is left keeps the level of the rest.
  const order = items
    .map((it, i) => ({ ...it, i }))
    .filter((it) => it.limit > 0 && it.weight > 0)
    .sort((a, b) => a.limit / a.weight - b.limit / b.weight);
  let left = Math.max(0, capacity);
  let weight = order.reduce((n, it) => n + it.weight, 0);
  for (const it of order) {
    const fair = (left * it.weight) / weight;
    const give = Math.min(it.limit, fair);
    out[it.i] = give;
    left -= give;
    weight -= it.weight;
  }
  return out;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Shares a vCPU total equally among a domain's vCPUs, none above what it wants. */
function splitVcpus(total: number, want: readonly number[]): number[] {
  return waterFill(
    total,
    want.map((w) => ({ limit: Math.min(1, Math.max(0, w)), weight: 1 })),
  );
}

/**
 * Shares `pcpus` among the `domains`' vCPUs as credit1 does over a step: weight per active vCPU, a domain's cap on
 * its total, work-conserving, at most 1.0 per vCPU. Returns each domain's share, in the domains' order.
 * @example
 * // Two busy 2-vCPU domains on 2 pCPUs, weights 512 and 256: 4/3 and 2/3 of a pCPU.
 * creditShare(2, [{ weight: 512, cap: 0, want: [1, 1] }, { weight: 256, cap: 0, want: [1, 1] }]);
 */
export function creditShare(pcpus: number, domains: readonly CreditDomain[]): CreditShare[] {
  const allowed = domains.map((d) => {
    const wanted = sum(d.want.map((w) => Math.min(1, Math.max(0, w))));
    return splitVcpus(d.cap > 0 ? Math.min(wanted, d.cap / 100) : wanted, d.want);
  });
  const got = waterFill(
    pcpus,
    domains.flatMap((d, i) => (allowed[i] ?? []).map((limit) => ({ limit, weight: d.weight }))),
  );
  let next = 0;
  return allowed.map((mine) => ({ allowed: mine, got: mine.map(() => got[next++] ?? 0) }));
}
