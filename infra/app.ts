/**
 * The CDK app (`npx cdk synth`, `npm run deploy`): the hub stack, the member-account stack
 * for the hub account, and — with an organization — the member stack as a service-managed
 * StackSet. cdk-nag's AwsSolutions pack checks all of them; every acknowledged finding has
 * its reason in `infra/nag.ts`.
 */
import { readFileSync } from 'node:fs';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WORKFLOW_FUNCTIONS } from '#workflow/registry';
import { analyseBundles, REPO_ROOT } from './bundles';
import { loadConfig, type TetherConfig } from './config';
import { HubStack } from './hub-stack';
import { MemberStack } from './member-stack';
import { API_FUNCTION, SWEEP_FUNCTION } from './names';
import { acknowledgeHubFindings, acknowledgeMemberFindings } from './nag';
import { StackSetStack } from './stackset-stack';

/** Stack names. */
export const STACKS = { hub: 'TetherHub', member: 'TetherMember', stackSet: 'TetherMemberStackSet' } as const;

export const API_ENTRY = 'functions/api/handler.ts';
/** The drift sweep's function, on its hourly schedule (infra/hub-stack.ts). */
export const SWEEP_ENTRY = 'functions/sweep/handler.ts';

/**
 * An app with the context of `cdk.json` (its feature flags) and asset metadata on, as the
 * CLI makes it: tests and the bench synthesize what `npx cdk synth` synthesizes.
 */
export function newApp(props: AppProps = {}): App {
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}cdk.json`, 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return new App({
    ...props,
    context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true, ...props.context },
  });
}

/** What every function needs, by entry, and which registry names call member accounts. */
export function analyseFunctions() {
  const entries = [API_ENTRY, SWEEP_ENTRY, ...WORKFLOW_FUNCTIONS.map((f) => f.entry)];
  const needs = new Map(analyseBundles(entries).map((n) => [n.entry, n]));
  const memberCallers = [
    ...(needs.get(API_ENTRY)?.member ? [API_FUNCTION] : []),
    ...(needs.get(SWEEP_ENTRY)?.member ? [SWEEP_FUNCTION] : []),
    ...WORKFLOW_FUNCTIONS.filter((f) => needs.get(f.entry)?.member).map((f) => f.name),
  ];
  return { needs, memberCallers };
}

/** The member stack alone, synthesized in an app of its own (the StackSet's template). */
export function memberTemplate(config: TetherConfig, memberCallers: readonly string[]): unknown {
  const app = newApp();
  const stack = new MemberStack(app, STACKS.member, { config, memberCallers });
  return app.synth().getStackByName(stack.stackName).template;
}

export interface TetherApp {
  readonly app: App;
  readonly hub: HubStack;
  readonly member: MemberStack;
  readonly stackSet?: StackSetStack;
}

/** Builds the app; `nag: false` leaves the checks out (the least-privilege test needs only the member template). */
export function buildApp(
  options: { app?: App; config?: TetherConfig; nag?: boolean; hub?: boolean } = {},
): TetherApp {
  const app = options.app ?? newApp();
  const config = options.config ?? loadConfig((key) => app.node.tryGetContext(key));
  const { needs, memberCallers } = analyseFunctions();
  const env = { account: config.hub.account, region: config.hub.region };
  const hub = new HubStack(app, STACKS.hub, {
    env,
    config,
    needs,
    description: 'Tether hub: API, workflows, table, bus, OIDC bucket',
  });
  // The hub account's own agent role: the hub's functions act there as in any member account.
  const member = new MemberStack(app, STACKS.member, {
    env,
    config,
    memberCallers,
    description: 'Tether member account: agent role, permissions boundary, NAT gateway event forwarding',
  });
  const stackSet = config.organization
    ? new StackSetStack(app, STACKS.stackSet, {
        env,
        config,
        memberTemplate: memberTemplate(config, memberCallers),
        description: 'Tether member-account stack as a service-managed StackSet',
      })
    : undefined;
  acknowledgeHubFindings(hub);
  acknowledgeMemberFindings(member);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, hub, member, ...(stackSet ? { stackSet } : {}) };
}

// `cdk synth` runs this file.
if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
