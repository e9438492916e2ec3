/**
 * The sandbox of AWS accounts, as its users see it: the {@link Sandbox} class
 * (`sandbox.ts`), its error, the shapes of its state, and the seed world's well-known
 * names. It only hands names on. The plug that puts the sandbox under a real SDK client
 * lives above it, in `#local/adapters/sdk-plugin`.
 *
 * @example
 * import { Sandbox } from '#local/sandbox/index';
 * const sb = Sandbox.open({ world: 'demo' });
 */
export type {
  CallContext,
  CallRecord,
  DeepReadonly,
  FaultSpec,
  SandboxOptions,
  ServiceName,
} from './sandbox';
export { isMutatingOperation, Sandbox } from './sandbox';
export type { SandboxErrorOptions } from './errors';
export { isSandboxError, SandboxError } from './errors';
export type { SandboxCredentials } from './sts';
export { HUB_ACCOUNT_ID, HUB_ROLE_ARN } from './sts';
export type { EksClusterIds, EksClusterSpec } from './world';
export { AGENT_ROLE_NAME, AGENT_ROLE_PATH, DEMO_NAT_IPS } from './world';
export type { ConfigMapOutput, ConfigMapRef, ConfigMapWrite } from './kubernetes';
export type * from './state';
