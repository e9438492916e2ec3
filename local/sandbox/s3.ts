/**
 * S3: buckets (names global across accounts, private to their owner), objects, bucket
 * tags, Block Public Access and bucket policies, and what an anonymous HTTPS GET sees
 * ({@link anonymousGet}: how IAM and STS fetch a self-managed issuer's discovery documents).
 * HEAD requests carry no error body, so their errors are `NotFound`/`Forbidden`, as the SDK
 * reports them for real S3.
 *
 * Block Public Access, as S3 documents it (S3 user guide, "Blocking public access to your
 * Amazon S3 storage", and "Default settings for new S3 buckets": all four settings on for
 * every new bucket since April 2023):
 * - `BlockPublicAcls`: a PutObject with a public canned ACL (`public-read`, …) is refused
 *   with `AccessDenied`;
 * - `IgnorePublicAcls`: public ACLs grant nothing (the sandbox grants nothing by ACL anyway);
 * - `BlockPublicPolicy`: a PutBucketPolicy whose policy is public is refused with
 *   `AccessDenied`, so a public bucket policy needs it off;
 * - `RestrictPublicBuckets`: a public policy lets in only AWS service principals and the
 *   owner's account, not anonymous callers, so anonymous reads need it off.
 * A policy is "public" when an Allow statement grants to `*` (or `{"AWS": "*"}`) without a
 * condition that fixes the caller (S3 user guide, "The meaning of public"); the sandbox
 * counts any condition as fixing it, a simplification on the safe side for Tether's checks.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { clone, mergeTags, type OpContext, type Operations, paginate, requireString } from './context';
import { SandboxError } from './errors';
import type { BucketState, PublicAccessBlockState, TagState } from './state';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Finds a bucket anywhere; `head` picks the body-less error codes of HEAD requests. */
function bucketOrThrow(ctx: OpContext, name: unknown, head = false): BucketState {
  const bucket = requireString(name, 'Bucket', 'InvalidBucketName');
  for (const account of Object.values(ctx.state.accounts)) {
    const b = account.s3.buckets[bucket];
    if (!b) continue;
    // Buckets are private: another account's caller is refused.
    if (account.id !== ctx.account.id) {
      throw head
        ? new SandboxError('Forbidden', 'Forbidden', { statusCode: 403 })
        : new SandboxError('AccessDenied', 'Access Denied', { statusCode: 403 });
    }
    return b;
  }
  if (head) throw new SandboxError('NotFound', 'Not Found', { statusCode: 404 });
  throw new SandboxError('NoSuchBucket', 'The specified bucket does not exist', {
    statusCode: 404,
    extra: { BucketName: bucket },
  });
}

/** Reads an SDK `Body` (string, Buffer, Uint8Array, Blob-less stream) into a Buffer. */
async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Uint8Array | string>)
      chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
    return Buffer.concat(chunks);
  }
  throw new SandboxError(
    'InvalidArgument',
    'The sandbox accepts Body as string, Buffer, Uint8Array or a stream',
  );
}

/** A Node stream with the SDK's stream mixin (`transformToString` and friends). */
function sdkStream(bytes: Buffer): Readable & {
  transformToString(encoding?: BufferEncoding): Promise<string>;
  transformToByteArray(): Promise<Uint8Array>;
  transformToWebStream(): ReadableStream;
} {
  const stream = Readable.from([bytes]);
  let used = false;
  const once = () => {
    if (used) throw new Error('The stream has already been transformed.');
    used = true;
  };
  return Object.assign(stream, {
    transformToString: async (encoding: BufferEncoding = 'utf8') => {
      once();
      return bytes.toString(encoding);
    },
    transformToByteArray: async () => {
      once();
      return new Uint8Array(bytes);
    },
    transformToWebStream: () => {
      once();
      return new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(bytes));
          c.close();
        },
      });
    },
  });
}

function objectOrThrow(
  bucket: BucketState,
  key: unknown,
  head = false,
): NonNullable<BucketState['objects'][string]> {
  const k = requireString(key, 'Key', 'InvalidArgument');
  const o = bucket.objects[k];
  if (!o) {
    if (head) throw new SandboxError('NotFound', 'Not Found', { statusCode: 404 });
    throw new SandboxError('NoSuchKey', 'The specified key does not exist.', {
      statusCode: 404,
      extra: { Key: k },
    });
  }
  return o;
}

/** The S3 operations the sandbox implements. */
export const s3Operations: Operations = {
  CreateBucket: (ctx, input) => {
    const name = requireString(input.Bucket, 'Bucket', 'InvalidBucketName');
    if (!BUCKET_NAME.test(name) || name.includes('..')) {
      throw new SandboxError('InvalidBucketName', 'The specified bucket is not valid.', {
        extra: { BucketName: name },
      });
    }
    const constraint = (input.CreateBucketConfiguration as { LocationConstraint?: string } | undefined)
      ?.LocationConstraint;
    // Outside us-east-1 the location constraint must name the endpoint's region.
    if ((constraint ?? 'us-east-1') !== ctx.region) {
      throw new SandboxError(
        'IllegalLocationConstraintException',
        `The ${constraint ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      );
    }
    for (const account of Object.values(ctx.state.accounts)) {
      if (!account.s3.buckets[name]) continue;
      if (account.id !== ctx.account.id) {
        throw new SandboxError(
          'BucketAlreadyExists',
          'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
          { statusCode: 409 },
        );
      }
      // us-east-1 answers 200 to the owner re-creating its bucket; other regions refuse.
      if (ctx.region === 'us-east-1') return { Location: `/${name}` };
      throw new SandboxError(
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
        { statusCode: 409 },
      );
    }
    ctx.account.s3.buckets[name] = {
      Name: name,
      Region: ctx.region,
      CreationDate: ctx.now(),
      Tags: null,
      objects: {},
      PublicAccessBlock: { ...ALL_BLOCKED },
    };
    return { Location: ctx.region === 'us-east-1' ? `/${name}` : `http://${name}.s3.amazonaws.com/` };
  },

  HeadBucket: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket, true);
    return { BucketRegion: b.Region };
  },

  ListBuckets: (ctx) => ({
    Buckets: Object.values(ctx.account.s3.buckets).map((b) => ({
      Name: b.Name,
      CreationDate: new Date(b.CreationDate),
      BucketRegion: b.Region,
    })),
    Owner: { ID: ctx.account.id },
  }),

  DeleteBucket: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    if (Object.keys(b.objects).length > 0) {
      throw new SandboxError('BucketNotEmpty', 'The bucket you tried to delete is not empty', {
        statusCode: 409,
      });
    }
    delete ctx.account.s3.buckets[b.Name];
    return {};
  },

  PutObject: async (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    const key = requireString(input.Key, 'Key', 'InvalidArgument');
    if (typeof input.ACL === 'string' && PUBLIC_CANNED_ACLS.has(input.ACL) && blockOf(b).BlockPublicAcls) {
      throw new SandboxError('AccessDenied', 'Access Denied', { statusCode: 403 });
    }
    const bytes = await bodyBytes(input.Body);
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    b.objects[key] = {
      bodyBase64: bytes.toString('base64'),
      ETag: etag,
      LastModified: ctx.now(),
      ...(typeof input.ContentType === 'string' ? { ContentType: input.ContentType } : {}),
      ...(input.Metadata ? { Metadata: { ...(input.Metadata as Record<string, string>) } } : {}),
    };
    return { ETag: etag };
  },

  GetObject: (ctx, input) => {
    const o = objectOrThrow(bucketOrThrow(ctx, input.Bucket), input.Key);
    const bytes = Buffer.from(o.bodyBase64, 'base64');
    return {
      Body: sdkStream(bytes),
      ContentLength: bytes.length,
      ContentType: o.ContentType ?? 'binary/octet-stream',
      ETag: o.ETag,
      LastModified: new Date(o.LastModified),
      Metadata: { ...(o.Metadata ?? {}) },
    };
  },

  HeadObject: (ctx, input) => {
    const o = objectOrThrow(bucketOrThrow(ctx, input.Bucket, true), input.Key, true);
    return {
      ContentLength: Buffer.from(o.bodyBase64, 'base64').length,
      ContentType: o.ContentType ?? 'binary/octet-stream',
      ETag: o.ETag,
      LastModified: new Date(o.LastModified),
      Metadata: { ...(o.Metadata ?? {}) },
    };
  },

  DeleteObject: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    // Deleting a missing key succeeds (S3 answers 204 either way).
    delete b.objects[requireString(input.Key, 'Key', 'InvalidArgument')];
    return {};
  },

  ListObjectsV2: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    const prefix = typeof input.Prefix === 'string' ? input.Prefix : '';
    const delimiter =
      typeof input.Delimiter === 'string' && input.Delimiter !== '' ? input.Delimiter : undefined;
    const startAfter = typeof input.StartAfter === 'string' ? input.StartAfter : '';
    const keys = Object.keys(b.objects)
      .filter((k) => k.startsWith(prefix) && k > startAfter)
      .sort();
    const contents: string[] = [];
    const common = new Set<string>();
    for (const k of keys) {
      const rest = k.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && cut >= 0) common.add(prefix + rest.slice(0, cut + delimiter.length));
      else contents.push(k);
    }
    const max = typeof input.MaxKeys === 'number' ? input.MaxKeys : 1000;
    const { page, next } = paginate(contents, input.ContinuationToken, max, 1000);
    return {
      Name: b.Name,
      Prefix: prefix,
      MaxKeys: max,
      KeyCount: page.length + common.size,
      IsTruncated: next !== undefined,
      ...(next ? { NextContinuationToken: next } : {}),
      ...(page.length > 0
        ? {
            Contents: page.map((k) => {
              const o = b.objects[k]!;
              return {
                Key: k,
                LastModified: new Date(o.LastModified),
                ETag: o.ETag,
                Size: Buffer.from(o.bodyBase64, 'base64').length,
                StorageClass: 'STANDARD',
              };
            }),
          }
        : {}),
      ...(common.size > 0 ? { CommonPrefixes: [...common].sort().map((Prefix) => ({ Prefix })) } : {}),
    };
  },

  PutBucketTagging: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    const set = (input.Tagging as { TagSet?: TagState[] } | undefined)?.TagSet;
    if (!Array.isArray(set))
      throw new SandboxError(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
      );
    if (set.length > 50) throw new SandboxError('InvalidTag', 'Object tags cannot be greater than 50');
    b.Tags = mergeTags([], set);
    return {};
  },

  GetBucketTagging: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    if (!b.Tags)
      throw new SandboxError('NoSuchTagSet', 'The TagSet does not exist', {
        statusCode: 404,
        extra: { BucketName: b.Name },
      });
    return { TagSet: clone(b.Tags) };
  },

  DeleteBucketTagging: (ctx, input) => {
    bucketOrThrow(ctx, input.Bucket).Tags = null;
    return {};
  },

  PutPublicAccessBlock: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    const c = (input.PublicAccessBlockConfiguration ?? {}) as Partial<PublicAccessBlockState>;
    // Settings left out of the request are off, as S3 stores them.
    b.PublicAccessBlock = {
      BlockPublicAcls: c.BlockPublicAcls === true,
      IgnorePublicAcls: c.IgnorePublicAcls === true,
      BlockPublicPolicy: c.BlockPublicPolicy === true,
      RestrictPublicBuckets: c.RestrictPublicBuckets === true,
    };
    return {};
  },

  GetPublicAccessBlock: (ctx, input) => {
    return { PublicAccessBlockConfiguration: { ...blockOf(bucketOrThrow(ctx, input.Bucket)) } };
  },

  DeletePublicAccessBlock: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    b.PublicAccessBlock = { ...NONE_BLOCKED };
    return {};
  },

  PutBucketPolicy: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    const text = requireString(input.Policy, 'Policy', 'MalformedPolicy');
    let policy: unknown;
    try {
      policy = JSON.parse(text);
    } catch {
      throw new SandboxError('MalformedPolicy', "Policies must be valid JSON and the first byte must be '{'");
    }
    if (isPublicPolicy(policy) && blockOf(b).BlockPublicPolicy) {
      throw new SandboxError(
        'AccessDenied',
        'User is not authorized to perform: s3:PutBucketPolicy on resource because public policies are blocked by the BlockPublicPolicy block public access setting.',
        { statusCode: 403 },
      );
    }
    b.Policy = text;
    return {};
  },

  GetBucketPolicy: (ctx, input) => {
    const b = bucketOrThrow(ctx, input.Bucket);
    if (b.Policy === undefined) {
      throw new SandboxError('NoSuchBucketPolicy', 'The bucket policy does not exist', {
        statusCode: 404,
        extra: { BucketName: b.Name },
      });
    }
    return { Policy: b.Policy };
  },

  DeleteBucketPolicy: (ctx, input) => {
    delete bucketOrThrow(ctx, input.Bucket).Policy;
    return {};
  },
};

const ALL_BLOCKED: PublicAccessBlockState = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};
const NONE_BLOCKED: PublicAccessBlockState = {
  BlockPublicAcls: false,
  IgnorePublicAcls: false,
  BlockPublicPolicy: false,
  RestrictPublicBuckets: false,
};
const PUBLIC_CANNED_ACLS = new Set(['public-read', 'public-read-write', 'authenticated-read']);

/** A bucket's Block Public Access settings (all on when a state file predates them). */
function blockOf(b: BucketState): PublicAccessBlockState {
  return b.PublicAccessBlock ?? ALL_BLOCKED;
}

type Statement = {
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: unknown;
};

const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function statementsOf(policy: unknown): Statement[] {
  const st = (policy as { Statement?: unknown } | null)?.Statement;
  return asArray(st).filter((x): x is Statement => typeof x === 'object' && x !== null);
}

/** Whether a statement grants to everyone: `Principal: "*"` or `{"AWS": "*"}`, with no condition. */
function grantsEveryone(st: Statement): boolean {
  if (st.Effect !== 'Allow' || st.Condition !== undefined) return false;
  const p = st.Principal;
  return p === '*' || asArray((p as { AWS?: unknown } | null)?.AWS).includes('*');
}

/** Whether a bucket policy is public in S3's sense (see the module comment). */
export function isPublicPolicy(policy: unknown): boolean {
  return statementsOf(policy).some(grantsEveryone);
}

const glob = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(value);

/**
 * What an anonymous HTTPS GET of `https://<bucket>.s3.<region>.amazonaws.com/<key>` gets:
 * the object, when the bucket policy grants `s3:GetObject` on it to everyone and
 * `RestrictPublicBuckets` is off; else 403. No credentials: this is how IAM and STS read an
 * issuer's discovery documents.
 */
export function anonymousGet(
  state: { accounts: Record<string, { s3: { buckets: Record<string, BucketState> } }> },
  url: string,
): { status: number; contentType?: string; body?: string } {
  const m = /^https:\/\/([a-z0-9.-]+)\.s3\.([a-z0-9-]+)\.amazonaws\.com\/(.+)$/.exec(url);
  if (!m) return { status: 404 };
  const [, name = '', region = '', key = ''] = m;
  const bucket = Object.values(state.accounts)
    .map((a) => a.s3.buckets[name])
    .find((b) => b !== undefined);
  if (!bucket || bucket.Region !== region) return { status: 404 };
  const publicPolicy = bucket.Policy === undefined ? undefined : JSON.parse(bucket.Policy);
  const allowed =
    publicPolicy !== undefined &&
    !blockOf(bucket).RestrictPublicBuckets &&
    statementsOf(publicPolicy).some(
      (st) =>
        grantsEveryone(st) &&
        asArray(st.Action).some((a) => typeof a === 'string' && glob(a.toLowerCase(), 's3:getobject')) &&
        asArray(st.Resource).some((r) => typeof r === 'string' && glob(r, `arn:aws:s3:::${name}/${key}`)),
    );
  if (!allowed) return { status: 403 };
  const o = bucket.objects[key];
  // Without s3:ListBucket, a missing key is 403 too (S3 does not say whether it exists).
  if (!o) return { status: 403 };
  return {
    status: 200,
    contentType: o.ContentType ?? 'binary/octet-stream',
    body: Buffer.from(o.bodyBase64, 'base64').toString('utf8'),
  };
}
