/**
 * Sandbox conformance against moto (issue 5, item 1): each sequence of SDK calls runs on
 * an empty sandbox and on a freshly reset moto, and the answers are compared field by
 * field. A difference must be listed in `divergences.ts` with exactly the values seen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDifference, differences, Recorder } from './compare';
import { DIVERGENCES, type Divergence, divergenceRows } from './divergences';
import { type MotoServer, motoAvailable, startMoto } from './moto';
import {
  CLUSTER,
  clusterByCalls,
  ec2Network,
  eksCluster,
  iamRoles,
  MEMBER,
  type Network,
  networkByCalls,
  oidcProviders,
  prefixLists,
  s3Objects,
  stsAssumeRole,
} from './sequences';
import { motoSide, REGION, type SandboxSide, type Side, sandboxSide } from './sides';

const availability = motoAvailable();

describe('conformance suite', () => {
  it('states whether moto is available', () => {
    if (availability.available) {
      console.log(`conformance: running against ${availability.reason}`);
      expect(availability.reason).toMatch(/^moto \d+\.\d+/);
    } else {
      console.log(`moto not available: conformance suite skipped (${availability.reason})`);
      expect(availability.reason).not.toBe('');
    }
  });
});

describe.runIf(availability.available)('sandbox against moto', () => {
  let moto: MotoServer;
  const hits = new Set<Divergence>();

  beforeAll(async () => {
    moto = await startMoto();
  });

  afterAll(async () => {
    await moto?.stop();
    console.log('Sandbox/moto divergences (test/conformance/divergences.ts):');
    console.table(divergenceRows(hits));
  });

  /**
   * Runs `sequence` on a fresh sandbox and on a reset moto, then asserts that every
   * difference is a listed divergence with exactly the listed values.
   */
  async function onBoth(
    sequence: (side: Side, rec: Recorder) => Promise<void>,
  ): Promise<{ sandbox: Recorder; moto: Recorder }> {
    const recorders = { sandbox: new Recorder('sandbox'), moto: new Recorder('moto') };
    await sequence(sandboxSide(), recorders.sandbox);
    await moto.reset();
    await sequence(motoSide(moto), recorders.moto);
    const diffs = differences(recorders.sandbox, recorders.moto);
    for (const d of diffs) {
      if (!d.listed) continue;
      expect(
        { sandbox: d.sandbox, moto: d.moto },
        `listed divergence changed: ${describeDifference(d)}`,
      ).toEqual({
        sandbox: d.listed.sandbox,
        moto: d.listed.moto,
      });
      hits.add(d.listed);
    }
    expect(diffs.filter((d) => !d.listed).map(describeDifference), 'unlisted differences').toEqual([]);
    return recorders;
  }

  /** The sandbox's observation of `step`. */
  const observed = (rec: Recorder, step: string) => {
    const s = rec.steps.find((x) => x.step === step);
    if (!s) throw new Error(`no step "${step}" on ${rec.side}`);
    return s.observation;
  };

  describe('IAM', () => {
    it('answers role calls alike, trust and inline policies URL-encoded, errors by name', async () => {
      const { sandbox } = await onBoth(iamRoles);
      expect(observed(sandbox, 'create the same role again').outcome).toBe(
        'EntityAlreadyExistsException client 409',
      );
      expect(observed(sandbox, 'get a missing role').outcome).toBe('NoSuchEntityException client 404');
      expect(observed(sandbox, 'get role').trustEncoding).toBe('"URL-encoded"');
      expect(observed(sandbox, 'delete role with an inline policy').outcome).toBe(
        'DeleteConflictException client 409',
      );
    });

    it('answers OIDC provider calls alike', async () => {
      const { sandbox } = await onBoth(oidcProviders);
      expect(observed(sandbox, 'create the same provider again').outcome).toBe(
        'EntityAlreadyExistsException client 409',
      );
      expect(observed(sandbox, 'get the deleted provider').outcome).toBe('NoSuchEntityException client 404');
    });
  });

  describe('STS', () => {
    it('assumes a role in another account and answers GetCallerIdentity as that role', async () => {
      const { sandbox } = await onBoth(stsAssumeRole);
      const who = observed(sandbox, 'caller identity of the assumed role');
      expect(who.Account).toBe('"222222222222"');
      expect(who.Arn).toBe('"arn:aws:sts::222222222222:assumed-role/conf-target/tether-conf"');
    });
  });

  describe('EC2', () => {
    it('answers NAT gateway, address and security-group-rule calls alike', async () => {
      const { sandbox } = await onBoth(async (side, rec) => {
        await ec2Network(side, rec, await networkOf(side));
      });
      expect(observed(sandbox, 'authorize the same rule again').outcome).toMatch(
        /^InvalidPermission\.Duplicate /,
      );
    });

    it('answers managed prefix list calls alike', async () => {
      await onBoth(prefixLists);
    });
  });

  describe('S3', () => {
    it('answers object calls alike', async () => {
      const { sandbox } = await onBoth(s3Objects);
      expect(observed(sandbox, 'get a missing object').outcome).toBe('NoSuchKey client 404');
    });
  });

  describe('EKS', () => {
    it('describes a cluster alike and records the access-entry gap', async () => {
      const { sandbox } = await onBoth(async (side, rec) => {
        const net = await networkOf(side);
        if (side.name === 'moto') await clusterByCalls(side, net);
        await eksCluster(side, rec, net);
      });
      expect(observed(sandbox, 'describe a missing cluster').outcome).toBe(
        'ResourceNotFoundException client 404',
      );
      expect(observed(sandbox, 'create an access entry').outcome).toBe('ok');
    });
  });

  describe('divergence list', () => {
    it('meets every divergence it lists as compared', () => {
      const unseen = DIVERGENCES.filter((d) => d.check === 'compared' && !hits.has(d)).map(
        (d) => `${d.service}:${d.operation} ${d.step ?? ''} ${d.field}`,
      );
      expect(unseen).toEqual([]);
    });
  });
});

/**
 * The starting network: on the sandbox an EKS cluster's VPC seeded with `addEksCluster`
 * (no NAT gateway: the sequence makes one), on moto the same made with calls.
 */
async function networkOf(side: Side): Promise<Network> {
  if (side.name === 'moto') return networkByCalls(side);
  const { sandbox } = side as SandboxSide;
  const ids = sandbox.addEksCluster({
    accountId: MEMBER,
    region: REGION,
    name: CLUSTER,
    authenticationMode: 'API',
    vpc: { natIps: [] },
  });
  return {
    vpcId: ids.vpcId,
    publicSubnetId: ids.publicSubnetIds[0] ?? '',
    subnetIds: ids.privateSubnetIds,
    securityGroupId: ids.clusterSecurityGroupId,
  };
}
