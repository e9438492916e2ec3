/**
 * `npm run sandbox:replace-nat -- <public-ip> [--account ID] [--region R] [--url URL]`: asks
 * a running `npm start` to replace the NAT gateway that holds `<public-ip>` in a source
 * account of its sandbox (the admin call of `local/adapters/sandbox-admin.ts`), then follows
 * the links of that account until no reconcile is running, and prints each one's status and
 * what its reconcile changed. Exit 0 when every link ends ACTIVE.
 */
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    account: { type: 'string', default: '111111111111' },
    region: { type: 'string', default: 'ap-southeast-1' },
    url: { type: 'string', default: `http://127.0.0.1:${process.env.TETHER_PORT ?? '8787'}` },
  },
});
const publicIp = positionals[0];
if (!publicIp) {
  console.error('usage: npm run sandbox:replace-nat -- <public-ip> [--account ID] [--region R] [--url URL]');
  process.exit(2);
}
const res = await fetch(`${values.url}/_sandbox/nat-gateways/replace`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ accountId: values.account, region: values.region, publicIp }),
});
const done = (await res.json()) as Record<string, any>;
if (!res.ok) {
  console.error(`refused (${res.status}): ${done.title}`);
  process.exit(1);
}
console.log(
  `Replaced ${done.replaced.natGatewayId} (${done.replaced.publicIp}) by ${done.by.natGatewayId} (${done.by.publicIp}) in ${done.vpcId}`,
);
const deadline = Date.now() + 60_000;
let links: Record<string, any>[] = [];
do {
  await new Promise((r) => setTimeout(r, 500));
  const list = await fetch(`${values.url}/links?sourceAccountId=${values.account}&limit=100`);
  links = ((await list.json()) as { items: Record<string, any>[] }).items;
} while (links.some((l) => l.status === 'RECONCILING') && Date.now() < deadline);
for (const summary of links) {
  const link = (await (await fetch(`${values.url}/links/${summary.id}`)).json()) as Record<string, any>;
  const changed = link.steps?.reconcile?.result?.changed ?? [];
  console.log(
    `  ${link.id}  ${link.status}  ${link.spec.target.cluster}  ${link.outputs?.egress?.effectiveAt ?? ''}  ${
      changed.length
        ? `changed: ${changed.map((c: any) => `${c.step} ${c.action}`).join(', ')}`
        : 'nothing to change'
    }`,
  );
}
process.exit(links.every((l) => l.status === 'ACTIVE') ? 0 : 1);
