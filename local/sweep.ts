/**
 * `npm run sweep [-- --url URL]`: asks a running `npm start` to run the drift sweep now (the
 * admin call of `local/adapters/sweep-admin.ts`; in AWS it runs hourly), waits for the
 * reconciles it started, and prints what it found and, per link, what the reconcile changed.
 * Exit 0 when every swept link holds (or was repaired).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { url: { type: 'string', default: `http://127.0.0.1:${process.env.TETHER_PORT ?? '8787'}` } },
});
const res = await fetch(`${values.url}/_sandbox/sweep?wait=true`, { method: 'POST' });
if (!res.ok) {
  console.error(`refused (${res.status}): ${await res.text()}`);
  process.exit(1);
}
const report = (await res.json()) as Record<string, any>;
console.log(
  `Swept ${report.checked} live links (${report.pages} pages, ${report.itemsRead} items read): ` +
    `${report.drifted.length} with drift, ${report.verificationsWritten} verifications changed.`,
);
for (const d of report.drifted) {
  console.log(
    `  ${d.linkId}  ${d.status}  ${d.reconcile ? 'reconciled' : 'left DEGRADED (same failure as before)'}`,
  );
  for (const f of d.failed) console.log(`      ✗ ${f.hop}: ${f.detail}`);
}
for (const o of report.outcomes ?? []) {
  const changed = o.changed.map((c: any) => `${c.step} ${c.action}`).join(', ') || 'nothing changed';
  console.log(`  ${o.linkId}  → ${o.status}: ${changed}`);
}
for (const e of report.errors) console.log(`  ${e.linkId}  not checked: ${e.message}`);
const unrepaired = (report.outcomes ?? []).filter((o: any) => o.status !== 'ACTIVE');
process.exit(unrepaired.length || report.errors.length ? 1 : 0);
