/**
 * The AWS Regions Tether knows, by partition. Only the `aws` partition is supported: Tether
 * builds every ARN with `arn:aws:` (names.ts, policies, the access policies of
 * `access-policies.ts`), so a cluster in China (`aws-cn`), GovCloud (`aws-us-gov`) or
 * another partition would get ARNs that do not exist there. A region of another partition
 * is refused as `PARTITION_UNSUPPORTED` before anything is made; a name that is no Region at
 * all is refused by the schema.
 *
 * Source: the partition data of the AWS SDK for JavaScript v3 (`@aws-sdk/core`,
 * `util-endpoints/lib/aws/partitions.js`, 3.981), without its `*-global` pseudo-regions.
 * `api/openapi.yaml` lists the same names as the enum of `Region` (a unit test keeps them
 * equal): add a new Region in both.
 */

export type Partition =
  | 'aws'
  | 'aws-cn'
  | 'aws-us-gov'
  | 'aws-eusc'
  | 'aws-iso'
  | 'aws-iso-b'
  | 'aws-iso-e'
  | 'aws-iso-f';

/** The partition Tether works in: the one whose ARNs start `arn:aws:`. */
export const SUPPORTED_PARTITION: Partition = 'aws';

/** Every Region name, with its partition, in the order of the spec's enum. */
export const AWS_REGIONS: Readonly<Record<string, Partition>> = {
  'af-south-1': 'aws',
  'ap-east-1': 'aws',
  'ap-east-2': 'aws',
  'ap-northeast-1': 'aws',
  'ap-northeast-2': 'aws',
  'ap-northeast-3': 'aws',
  'ap-south-1': 'aws',
  'ap-south-2': 'aws',
  'ap-southeast-1': 'aws',
  'ap-southeast-2': 'aws',
  'ap-southeast-3': 'aws',
  'ap-southeast-4': 'aws',
  'ap-southeast-5': 'aws',
  'ap-southeast-6': 'aws',
  'ap-southeast-7': 'aws',
  'ca-central-1': 'aws',
  'ca-west-1': 'aws',
  'eu-central-1': 'aws',
  'eu-central-2': 'aws',
  'eu-north-1': 'aws',
  'eu-south-1': 'aws',
  'eu-south-2': 'aws',
  'eu-west-1': 'aws',
  'eu-west-2': 'aws',
  'eu-west-3': 'aws',
  'il-central-1': 'aws',
  'me-central-1': 'aws',
  'me-south-1': 'aws',
  'me-west-1': 'aws',
  'mx-central-1': 'aws',
  'sa-east-1': 'aws',
  'sa-west-1': 'aws',
  'us-east-1': 'aws',
  'us-east-2': 'aws',
  'us-west-1': 'aws',
  'us-west-2': 'aws',
  'cn-north-1': 'aws-cn',
  'cn-northwest-1': 'aws-cn',
  'us-gov-east-1': 'aws-us-gov',
  'us-gov-west-1': 'aws-us-gov',
  'eusc-de-east-1': 'aws-eusc',
  'us-iso-east-1': 'aws-iso',
  'us-iso-west-1': 'aws-iso',
  'us-isob-east-1': 'aws-iso-b',
  'us-isob-west-1': 'aws-iso-b',
  'eu-isoe-west-1': 'aws-iso-e',
  'us-isof-east-1': 'aws-iso-f',
  'us-isof-south-1': 'aws-iso-f',
};

/** Every Region name Tether knows, of any partition. */
export const REGION_NAMES: readonly string[] = Object.keys(AWS_REGIONS);

/**
 * The partition of a Region, or undefined for a name that is no Region.
 *
 * @example
 * partitionOf('ap-southeast-1'); // 'aws'
 * partitionOf('cn-north-1'); // 'aws-cn'
 * partitionOf('xx-fake-1'); // undefined
 */
export function partitionOf(region: string): Partition | undefined {
  return Object.hasOwn(AWS_REGIONS, region) ? AWS_REGIONS[region] : undefined;
}
