import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addBrokerStacks } from './broker-app.js';
import { resolveStageConfig, StageConfigError } from './stages.js';

// `npx cdk synth|deploy --all -c stage=dev|prod` (see README, "Deploying to AWS").
const app = new App();
try {
  const config = resolveStageConfig((key) => app.node.tryGetContext(key));
  addBrokerStacks(app, config, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // Findings fail synth; each acknowledgment in infra/ carries its reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (!(error instanceof StageConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
app.synth();
