/**
 * Onboard task "Render kubeconfig": the exec-credential kubeconfig of the role chain. The logic is `kubeconfigStep` in `#resources/kubeconfig`.
 */
import { kubeconfigStep } from '#resources/kubeconfig';
import { runStep, stepHandler } from '../step';

export const renderKubeconfig = runStep('onboard', 'kubeconfig', (link) => kubeconfigStep(link));
export const handler = stepHandler(renderKubeconfig);
