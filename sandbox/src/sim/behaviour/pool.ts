/**
 * Pool membership: join, eject, designate_new_master (ocaml/xapi/xapi_pool.ml).
 *
 * Limit (stated plainly): a simulated world holds one pool and every API session talks to its coordinator, so
 * `pool.join` always runs "on" the coordinator. It reaches the joining-side checks in XAPI's order — connection
 * to `master_address` first (POOL_JOINING_HOST_CONNECTION_FAILED when no host of the world has that address,
 * HOST_IS_SLAVE when it is a member), then HA_IS_ENABLED, then OPERATION_NOT_ALLOWED ("Host cannot become slave of
 * itself" / "Host is already part of a pool") — but a standalone second pool to join does not exist yet, so a join
 * never succeeds, and the remote credentials are not checked.
 */
import type { SimBehaviour, SimContext } from '../contract.js';
import { refreshHost } from './host.js';
import { masterHost } from './placement.js';
import { arg, bool, fail, hostLive, isNull, pbdsOf, ref, residentVms, str, thePool } from './util.js';

function join(ctx: SimContext, address: string): void {
  const { store } = ctx;
  const self = masterHost(store);
  const target = store
    .all('host')
    .find(([, h]) => str(h, 'address') === address || str(h, 'hostname') === address);
  // join_common logs into the remote master first: an unknown address never answers, a member redirects.
  if (!target) fail('POOL_JOINING_HOST_CONNECTION_FAILED');
  if (target[0] !== self) fail('HOST_IS_SLAVE', str(store.get('host', self), 'address'));
  // pre_join_checks order: HA here, HA there, then "joining myself" (xapi_pool.ml assert_not_joining_myself)
  const [, pool] = thePool(store);
  if (bool(pool, 'ha_enabled')) fail('HA_IS_ENABLED');
  fail(
    'OPERATION_NOT_ALLOWED',
    store.all('host').length > 1 ? 'Host is already part of a pool' : 'Host cannot become slave of itself',
  );
}

function eject(ctx: SimContext, host: string): void {
  const { store } = ctx;
  store.get('host', host);
  const [, pool] = thePool(store);
  // xapi_pool.ml eject_self: HA first, then the coordinator raises Cannot_eject_master (an OCaml exception →
  // INTERNAL_ERROR), then any guest not Halted that is resident there.
  if (bool(pool, 'ha_enabled')) fail('HA_IS_ENABLED');
  if (ref(pool, 'master') === host) fail('INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master');
  const guests = residentVms(store, host).filter((vm) => !bool(store.find('VM', vm), 'is_control_domain'));
  if (guests.length > 0) fail('OPERATION_NOT_ALLOWED', 'VM resident on host');
  // The host leaves with its local things: PIFs, PBDs, local SRs (and their VDIs), CPUs, dom0, metrics.
  for (const [pbd, p] of store.all('PBD')) {
    if (p.host !== host) continue;
    const sr = ref(p, 'SR');
    store.destroy('PBD', pbd);
    const srRec = store.find('SR', sr);
    if (srRec && !bool(srRec, 'shared') && pbdsOf(store, sr).length === 0) {
      for (const [vdi, v] of store.all('VDI')) {
        if (v.SR !== sr) continue;
        for (const [vbd, b] of store.all('VBD')) if (b.VDI === vdi) store.destroy('VBD', vbd);
        store.destroy('VDI', vdi);
      }
      store.destroy('SR', sr);
    }
  }
  for (const [pif, p] of store.all('PIF')) {
    if (p.host !== host) continue;
    const m = ref(p, 'metrics');
    if (!isNull(m) && store.find('PIF_metrics', m)) store.destroy('PIF_metrics', m);
    store.destroy('PIF', pif);
  }
  for (const [cpu, c] of store.all('host_cpu')) if (c.host === host) store.destroy('host_cpu', cpu);
  for (const vm of residentVms(store, host)) {
    const r = store.get('VM', vm);
    const m = ref(r, 'metrics');
    if (!isNull(m) && store.find('VM_metrics', m)) store.destroy('VM_metrics', m);
    store.destroy('VM', vm);
  }
  const h = store.get('host', host);
  const m = ref(h, 'metrics');
  if (!isNull(m) && store.find('host_metrics', m)) store.destroy('host_metrics', m);
  store.destroy('host', host);
}

function designateNewMaster(ctx: SimContext, host: string): void {
  const { store } = ctx;
  store.get('host', host);
  const [poolRef, pool] = thePool(store);
  if (bool(pool, 'ha_enabled')) fail('HA_IS_ENABLED');
  if (ref(pool, 'master') === host) return;
  if (!hostLive(store, host)) fail('HOST_OFFLINE', host);
  store.update('pool', poolRef, { master: host });
  refreshHost(store, host);
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'pool.join': (ctx, args) => {
    join(ctx, arg.str(args, 0));
  },
  'pool.join_force': (ctx, args) => {
    join(ctx, arg.str(args, 0));
  },
  'pool.eject': (ctx, args) => {
    eject(ctx, arg.str(args, 0));
  },
  'pool.designate_new_master': (ctx, args) => {
    designateNewMaster(ctx, arg.str(args, 0));
  },
  'pool.emergency_transition_to_master': (ctx) => {
    // Called on a member whose coordinator died (no HA): in the one-pool world the first live host takes over.
    const { store } = ctx;
    const [poolRef, pool] = thePool(store);
    if (hostLive(store, ref(pool, 'master'))) return;
    const next = store.all('host').find(([h]) => hostLive(store, h));
    if (next) store.update('pool', poolRef, { master: next[0] });
  },
  'pool.recover_slaves': () => [],
  'pool.sync_database': () => undefined,
};

/** Pool membership behaviour. */
export const poolBehaviour: SimBehaviour = { handlers };
