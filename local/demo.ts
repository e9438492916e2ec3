/** The demo link of the cross-account IRSA runbook: kubeai-chatbot/kubeai-chatbot in cluster-a → cluster-b, view access. */
import type { OnboardingRequest } from '#link/model';

export const DEMO_REQUEST = {
  source: {
    accountId: '111111111111',
    region: 'ap-southeast-1',
    cluster: 'cluster-a',
    namespace: 'kubeai-chatbot',
    serviceAccount: 'kubeai-chatbot',
  },
  targets: [
    {
      accountId: '222222222222',
      region: 'ap-southeast-1',
      cluster: 'cluster-b',
      access: {
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        scope: { type: 'cluster' },
      },
    },
  ],
} as const satisfies Omit<OnboardingRequest, 'identity' | 'network'> & Partial<OnboardingRequest>;
