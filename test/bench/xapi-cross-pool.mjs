// Part of `npm run bench:xapi`: 100 cross-pool migrations (host.migrate_receive on the destination, then
// VM.migrate_send on the source, which calls the destination over XML-RPC) between two simulators of one
// environment, against a baseline measured in the same run: 100 intra-pool VM.pool_migrate calls. Fast mode (no
// simulated WAN time), 8 concurrent clients; running VMs with one 1 GiB disk and no NIC.

/** JSON-RPC call helper bound to nothing: `call(url, method, ...params)`. */
async function call(url, method, ...params) {
  const res = await fetch(`${url}/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  });
  const r = await res.json();
  if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return r.result;
}

async function parallel(n, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/**
 * Runs the comparison with the given `startSimulator` (dist in the bench, sources in a quick check) and returns
 * `{ pool_migrate_100_ms, cross_pool_migrate_100_ms, cross_pool_vs_pool_migrate }`.
 */
export async function benchCrossPool(startSimulator, scenario) {
  const crossPool = { link: 'bench-link', wan: { latencyMs: 40, mbps: 200 } };
  const east = await startSimulator({ port: 0, fast: true, scenario, crossPool });
  const west = await startSimulator({
    port: 0,
    fast: true,
    scenario: { ...scenario, pool: { name: 'bench-west' }, seed: 'bench-west' },
    crossPool,
  });
  try {
    const a = await call(east.url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'bench');
    const b = await call(west.url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'bench');
    const [template] = await call(east.url, 'VM.get_by_name_label', a, 'Bench tiny');
    const hosts = await call(east.url, 'host.get_all', a);
    const vms = [];
    await parallel(200, 8, async (i) => {
      const vm = await call(east.url, 'VM.clone', a, template, `x-${i}`);
      await call(east.url, 'VM.provision', a, vm);
      await call(east.url, 'VM.start_on', a, vm, hosts[0], false, false);
      vms[i] = vm;
    });
    // Baseline: 100 live migrations inside the pool.
    let t = performance.now();
    await parallel(100, 8, (i) => call(east.url, 'VM.pool_migrate', a, vms[i], hosts[1], { live: 'true' }));
    const poolMs = performance.now() - t;
    // 100 migrations to the other pool, each with its own dest map (as xe vm-migrate asks for one).
    const [westHost] = await call(west.url, 'host.get_all', b);
    const [westSr] = await call(west.url, 'SR.get_by_name_label', b, 'NFS storage');
    const pifs = await call(west.url, 'PIF.get_all_records', b);
    const mgmt = Object.values(pifs).find((p) => p.host === westHost && p.management);
    t = performance.now();
    await parallel(100, 8, async (i) => {
      const vm = vms[100 + i];
      const vdiMap = {};
      for (const vbd of await call(east.url, 'VM.get_VBDs', a, vm)) {
        const r = await call(east.url, 'VBD.get_record', a, vbd);
        if (r.type === 'Disk') vdiMap[r.VDI] = westSr;
      }
      const dest = await call(west.url, 'host.migrate_receive', b, westHost, mgmt.network, {});
      await call(east.url, 'VM.migrate_send', a, vm, dest, true, vdiMap, {}, {});
    });
    const crossMs = performance.now() - t;
    const there = await call(west.url, 'VM.get_all_records', b);
    const arrived = Object.values(there).filter((r) => String(r.name_label).startsWith('x-')).length;
    if (arrived !== 100) throw new Error(`cross-pool bench: ${arrived} of 100 VMs arrived`);
    return {
      pool_migrate_100_ms: Math.round(poolMs),
      cross_pool_migrate_100_ms: Math.round(crossMs),
      cross_pool_vs_pool_migrate: Number((crossMs / poolMs).toFixed(2)),
    };
  } finally {
    await Promise.all([east.close(), west.close()]);
  }
}
