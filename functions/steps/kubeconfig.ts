/** Onboard step "kubeconfig" as a Lambda handler; the logic is `kubeconfigStep` in `kubeconfig`. */
import { kubeconfigStep } from '../commons/resources/kubeconfig';
import { runStep, stepHandler } from '../commons/step';

export const renderKubeconfig = runStep('onboard', 'kubeconfig', (link) => kubeconfigStep(link));
export const handler = stepHandler(renderKubeconfig);
