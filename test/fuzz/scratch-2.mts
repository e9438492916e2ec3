import fc from 'fast-check';
for (const p of [
  '^[0-9A-Za-z][A-Za-z0-9\\-_]{0,99}$',
  '^[\\x21-\\x7E]+$',
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  '^[a-z]{2}(-gov)?-[a-z]+-[0-9]$',
  '^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z]+$',
]) {
  const re = new RegExp(p, 'u');
  console.log(
    fc.sample(fc.stringMatching(re), { numRuns: 3, seed: 1 }).map((s) => s.slice(0, 60)),
    fc.sample(fc.stringMatching(re), 200).every((s) => re.test(s)),
  );
}
