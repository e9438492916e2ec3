/**
 * What a resource step needs from its runtime: the client factory, the stores and a clock.
 * The workflow's runtime provides it; tests pass a narrow one against the sandbox.
 */
import type { AwsClients } from '#aws/clients';
import type { LinkStore } from '#store/links';
import type { MembershipStore } from '#store/memberships';

export interface StepDeps {
  readonly clients: AwsClients;
  readonly links: LinkStore;
  readonly memberships: MembershipStore;
  readonly now: () => Date;
}
