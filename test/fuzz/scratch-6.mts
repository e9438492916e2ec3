import { startHarness, demoRequest } from '../e2e/harness';
const h = await startHarness();
for (let i = 0; i < 80; i++) {
  const body: any = demoRequest();
  body.source.namespace = `ns${i}`;
  await h.api('POST', '/links', body);
}
await h.rt.stepFunctions.idle();
let t = Date.now();
let n = '';
for (let i = 0; i < 50; i++) { n = (await h.rt.links.list({}, 1)).items[0]?.id ?? ''; }
console.log('head', n, (Date.now() - t) / 50);
t = Date.now();
for (let i = 0; i < 50; i++) h.rt.sandbox.callCounts({ mutating: true });
console.log('calls', (Date.now() - t) / 50);
await h.close();
