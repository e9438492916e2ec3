import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketTaggingCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, rejectionOf } from './helpers';

const bucket = {
  Bucket: 'oidc-cluster-x',
  CreateBucketConfiguration: { LocationConstraint: 'ap-southeast-1' as const },
};

describe('s3', () => {
  it('stores and serves objects with the SDK stream mixin', async () => {
    const sb = Sandbox.open();
    const { s3 } = await agentClients(sb, '111111111111');
    await s3.send(new CreateBucketCommand(bucket));
    await s3.send(new HeadBucketCommand({ Bucket: bucket.Bucket }));
    const doc = JSON.stringify({ issuer: 'https://oidc-cluster-x.s3.amazonaws.com' });
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket.Bucket,
        Key: '.well-known/openid-configuration',
        Body: doc,
        ContentType: 'application/json',
      }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: bucket.Bucket, Key: 'keys.json', Body: Buffer.from('{"keys":[]}') }),
    );
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket.Bucket, Key: '.well-known/openid-configuration' }),
    );
    expect(got.ContentType).toBe('application/json');
    expect(await got.Body?.transformToString()).toBe(doc);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket.Bucket, Key: 'keys.json' }));
    expect(head.ContentLength).toBe(11);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket.Bucket }));
    expect(list.Contents?.map((o) => o.Key)).toEqual(['.well-known/openid-configuration', 'keys.json']);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket.Bucket, Key: 'keys.json' }));
    expect(
      (await rejectionOf(s3.send(new GetObjectCommand({ Bucket: bucket.Bucket, Key: 'keys.json' })))).name,
    ).toBe('NoSuchKey');
    expect(
      (await rejectionOf(s3.send(new HeadObjectCommand({ Bucket: bucket.Bucket, Key: 'keys.json' })))).name,
    ).toBe('NotFound');
  });

  it('shares bucket names across accounts and keeps buckets private', async () => {
    const sb = Sandbox.open();
    const a = await agentClients(sb, '111111111111');
    const b = await agentClients(sb, '222222222222');
    await a.s3.send(new CreateBucketCommand(bucket));
    expect((await rejectionOf(b.s3.send(new CreateBucketCommand(bucket)))).name).toBe('BucketAlreadyExists');
    expect((await rejectionOf(a.s3.send(new CreateBucketCommand(bucket)))).name).toBe(
      'BucketAlreadyOwnedByYou',
    );
    expect(
      (await rejectionOf(b.s3.send(new GetObjectCommand({ Bucket: bucket.Bucket, Key: 'x' })))).name,
    ).toBe('AccessDenied');
    expect(
      (await rejectionOf(a.s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket-here', Key: 'x' })))).name,
    ).toBe('NoSuchBucket');
    const elsewhere = new CreateBucketCommand({
      Bucket: 'other-bucket',
      CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
    });
    expect((await rejectionOf(a.s3.send(elsewhere))).name).toBe('IllegalLocationConstraintException');
  });

  it('tags buckets', async () => {
    const sb = Sandbox.open();
    const { s3 } = await agentClients(sb, '111111111111');
    await s3.send(new CreateBucketCommand(bucket));
    expect((await rejectionOf(s3.send(new GetBucketTaggingCommand({ Bucket: bucket.Bucket })))).name).toBe(
      'NoSuchTagSet',
    );
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: bucket.Bucket,
        Tagging: { TagSet: [{ Key: 'tether:managed', Value: 'true' }] },
      }),
    );
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket.Bucket }))).TagSet).toEqual([
      { Key: 'tether:managed', Value: 'true' },
    ]);
  });
});
