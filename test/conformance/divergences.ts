/**
 * Every known difference between the sandbox and moto on the calls Tether makes, with
 * what AWS does and where AWS says so. The conformance suite asserts that each difference
 * it finds is listed here with exactly these values, and that each `compared` entry is
 * still found, so this table stays true. Values are normalised observations (see
 * `compare.ts`): `"text"` for strings, `<Date>` for dates, `Name fault status` for errors.
 */

export type Verdict = 'sandbox follows AWS' | 'moto follows AWS' | 'unknown';

export interface Divergence {
  readonly service: string;
  readonly operation: string;
  /** The step of the sequence, when the same field differs differently elsewhere. */
  readonly step?: string;
  /** The output field (dotted path) or `outcome` (success or the error's name/fault/status). */
  readonly field: string;
  readonly sandbox: string;
  readonly moto: string;
  /** What AWS does. */
  readonly aws: string;
  /** AWS documentation URL or AWS-FACTS.md section. */
  readonly reference: string;
  readonly verdict: Verdict;
  /**
   * `compared`: a sequence of the suite meets it and asserts it. `documented`: a known
   * moto gap no sequence compares (say why in `aws`).
   */
  readonly check: 'compared' | 'documented';
}

const IAM_QUOTAS = 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html';
const IAM_API = 'https://docs.aws.amazon.com/IAM/latest/APIReference/';
const STS_ASSUME = 'https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html';
const EKS_API = 'https://docs.aws.amazon.com/eks/latest/APIReference/';
const EC2_API = 'https://docs.aws.amazon.com/AWSEC2/latest/APIReference/';

export const DIVERGENCES: readonly Divergence[] = [
  {
    service: 'eks',
    operation: 'CreatePodIdentityAssociation',
    field: 'outcome',
    sandbox: 'not implemented (UnsupportedOperation)',
    moto: 'not implemented',
    aws: 'Creates an EKS Pod Identity association, optionally with a targetRoleArn and an externalId for cross-account use (AWS-FACTS "EKS"). Neither emulator has it, so no sequence compares it.',
    reference: `${EKS_API}API_CreatePodIdentityAssociation.html`,
    verdict: 'unknown',
    check: 'documented',
  },
];

/** The listed divergence for a difference, if any. */
export function findDivergence(d: {
  service: string;
  operation: string;
  step: string;
  field: string;
}): Divergence | undefined {
  return DIVERGENCES.find(
    (e) =>
      e.check === 'compared' &&
      e.service === d.service &&
      e.operation === d.operation &&
      e.field === d.field &&
      (e.step === undefined || e.step === d.step),
  );
}

/** The table as rows for `console.table`. */
export function divergenceRows(hits?: ReadonlySet<Divergence>): Record<string, string>[] {
  return DIVERGENCES.map((d) => ({
    call: `${d.service}:${d.operation}${d.step ? ` [${d.step}]` : ''}`,
    field: d.field,
    sandbox: d.sandbox,
    moto: d.moto,
    aws: d.aws,
    verdict: d.verdict,
    reference: d.reference,
    seen: d.check === 'documented' ? 'documented' : hits?.has(d) ? 'compared: seen' : 'compared: NOT seen',
  }));
}

export { EC2_API, IAM_API, IAM_QUOTAS, STS_ASSUME };
