/**
 * The cases the event patterns are judged on, shared by the unit test (Tether's matcher) and
 * the conformance test (moto's): every sample of `events/samples/aws.ec2/`, and for each
 * pattern its sample's near misses — one field away from matching.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { NAT_CHANGE_EVENTS, SAMPLES_DIR } from '#events/registry';

export type EventJson = Record<string, any>;

/** Every sample, by file name. */
export const SAMPLES: ReadonlyMap<string, EventJson> = new Map(
  readdirSync(new URL('aws.ec2/', SAMPLES_DIR))
    .filter((f) => f.endsWith('.json'))
    .map((file) => [
      file,
      JSON.parse(readFileSync(new URL(`aws.ec2/${file}`, SAMPLES_DIR), 'utf8')) as EventJson,
    ]),
);

export type NatChange = keyof typeof NAT_CHANGE_EVENTS;
export const NAT_CHANGES = Object.keys(NAT_CHANGE_EVENTS) as NatChange[];

/** The sample of a pattern. */
export function sampleOf(change: NatChange): EventJson {
  const sample = SAMPLES.get(NAT_CHANGE_EVENTS[change].sample);
  if (!sample) throw new Error(`No sample ${NAT_CHANGE_EVENTS[change].sample} for ${change}`);
  return sample;
}

function edited(event: EventJson, edit: (e: EventJson) => void): EventJson {
  const copy = structuredClone(event);
  edit(copy);
  return copy;
}

/** Events one field away from the pattern's sample that the pattern must not match. */
export function nearMisses(change: NatChange): [string, EventJson][] {
  const sample = sampleOf(change);
  const misses: [string, EventJson][] = [
    ['another source', edited(sample, (e) => (e.source = 'aws.ecs'))],
    ['another detail-type', edited(sample, (e) => (e['detail-type'] = 'AWS Service Event via CloudTrail'))],
    ['another eventSource', edited(sample, (e) => (e.detail.eventSource = 'ecs.amazonaws.com'))],
    ['another eventName', edited(sample, (e) => (e.detail.eventName = 'CreateVpc'))],
    [
      'the eventName in another case',
      edited(sample, (e) => (e.detail.eventName = String(e.detail.eventName).toLowerCase())),
    ],
  ];
  if (change === 'natGatewayCreationFailed') {
    misses.push(['the call succeeded', edited(sample, (e) => delete e.detail.errorCode)]);
  } else {
    misses.push([
      'EC2 refused the call',
      edited(sample, (e) => {
        e.detail.errorCode = 'Client.UnauthorizedOperation';
        e.detail.errorMessage = 'You are not authorized to perform this operation.';
      }),
    ]);
  }
  if (change === 'elasticIpAssociated') {
    misses.push([
      'an address associated with an instance',
      edited(sample, (e) => {
        delete e.detail.requestParameters.networkInterfaceId;
        e.detail.requestParameters.instanceId = 'i-0a1b2c3d4e5f60718';
      }),
    ]);
  }
  return misses;
}
